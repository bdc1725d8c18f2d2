"""The worker's updater against a fake gateway that forges offers and serves (or corrupts) the chunks:
what the agent reports, what it fetches, and what it leaves on disk."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from borealis.agent.assembly import build_worker
from borealis.agent.self_update.install import base_site_paths
from borealis.agent.self_update.state import (
    SWITCH_EXIT_CODE,
    interpreter,
    is_complete,
    read_state,
    version_dir,
    versions_dir,
)
from borealis.core.home import Home
from borealis.core.settings import load_agent_settings
from borealis.protocol import keys
from borealis.protocol.agent_updates import CHUNK_BYTES, encode_chunk, update_payload
from tests.agent.fakes import FakeGateway, enrolled_home
from tests.agent.update_wheels import build_agent_wheel

SHOW_BASE = "from borealis.agent.self_update.install import base_site_paths; print('|'.join(base_site_paths()), end='')"


def offer(gateway: FakeGateway, version: str, wheel: bytes, *, sign_with: Any = None) -> dict[str, Any]:
    sha256 = hashlib.sha256(wheel).hexdigest()
    signature = keys.sign(sign_with or gateway.key, update_payload(version, sha256, len(wheel)))
    return {
        "t": "update.offer",
        "version": version,
        "sha256": sha256,
        "size": len(wheel),
        "signature": signature,
    }


def statuses(gateway: FakeGateway, version: str) -> list[dict[str, Any]]:
    return [m for m in gateway.received("update.status") if m.get("version") == version]


async def serve_chunks(gateway: FakeGateway, version: str, served: bytes) -> None:
    """Answer every update.fetch with the chunk of `served` at its offset, as the server does."""
    answered = 0
    while True:
        fetches = gateway.received("update.fetch")
        for fetch in fetches[answered:]:
            offset = fetch["offset"]
            data = served[offset : offset + CHUNK_BYTES]
            await gateway.send(
                {"t": "update.chunk", "version": version, "offset": offset, "data": encode_chunk(data)}
            )
        answered = len(fetches)
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def worker_with_chunks(
    root: Path, version: str, served: bytes
) -> AsyncIterator[tuple[FakeGateway, Any]]:
    """A real worker (in-process) on a fake gateway that serves `served`; yields (gateway, run task)."""
    async with FakeGateway(heartbeat_s=0.2) as gateway:
        home, identity, key = enrolled_home(root, gateway.url, gateway.key)
        gateway.agent_keys[identity.agent_id] = key
        worker = build_worker(home, load_agent_settings(home), startup_delay=False, beat_fd=None)
        running = asyncio.create_task(worker.run())
        chunks = asyncio.create_task(serve_chunks(gateway, version, served))
        try:
            await gateway.wait_welcomed()
            yield gateway, running
        finally:
            chunks.cancel()
            if not running.done():
                worker.request_stop()
            await asyncio.wait_for(asyncio.gather(running, chunks, return_exceptions=True), 15)


async def test_an_offer_not_signed_by_the_pinned_key_is_refused_before_anything_is_fetched(
    tmp_path: Path,
) -> None:
    wheel = build_agent_wheel(tmp_path, "0.9.5").read_bytes()
    async with worker_with_chunks(tmp_path / "home", "0.9.5", wheel) as (gateway, _):
        await gateway.send(offer(gateway, "0.9.5", wheel, sign_with=keys.generate()))
        await gateway.wait_for(lambda: statuses(gateway, "0.9.5"))

        [report] = statuses(gateway, "0.9.5")
        assert report["state"] == "failed"
        assert "bad signature" in report["reason"]
        assert gateway.received("update.fetch") == []
    assert not (tmp_path / "home" / "Agent" / "versions" / "0.9.5").exists()


async def test_a_download_that_does_not_match_the_signed_sha256_is_not_installed(tmp_path: Path) -> None:
    wheel = build_agent_wheel(tmp_path, "0.9.6").read_bytes()
    tampered = wheel[:-10] + bytes(b ^ 0xFF for b in wheel[-10:])
    async with worker_with_chunks(tmp_path / "home", "0.9.6", tampered) as (gateway, _):
        await gateway.send(offer(gateway, "0.9.6", wheel))
        await gateway.wait_for(lambda: any(s["state"] == "failed" for s in statuses(gateway, "0.9.6")))

        states = [s["state"] for s in statuses(gateway, "0.9.6")]
        assert states == ["downloading", "failed"]
        assert "sha256 mismatch" in statuses(gateway, "0.9.6")[-1]["reason"]
        assert gateway.received("update.fetch"), "the agent fetched before it could tell"
    home_versions = tmp_path / "home" / "Agent" / "versions"
    assert not (home_versions / "0.9.6").exists()
    assert not list((home_versions / ".downloads").glob("*")), "the bad download is deleted"


@pytest.mark.slow
async def test_a_verified_wheel_is_installed_beside_the_running_version_and_the_worker_exits_to_switch(
    tmp_path: Path,
) -> None:
    wheel = build_agent_wheel(tmp_path, "0.9.7", padding_bytes=2 * CHUNK_BYTES).read_bytes()
    async with worker_with_chunks(tmp_path / "home", "0.9.7", wheel) as (gateway, running):
        await gateway.send(offer(gateway, "0.9.7", wheel))
        exit_code = await asyncio.wait_for(running, 60)

    assert exit_code == SWITCH_EXIT_CODE
    offsets = [f["offset"] for f in gateway.received("update.fetch")]
    assert offsets[:3] == [0, CHUNK_BYTES, 2 * CHUNK_BYTES]
    assert [s["state"] for s in statuses(gateway, "0.9.7")][:2] == ["downloading", "installed"]
    home = Home(tmp_path / "home")
    assert is_complete(home, "0.9.7")
    inherited = subprocess.run(
        [str(interpreter(version_dir(home, "0.9.7"))), "-I", "-c", SHOW_BASE], capture_output=True, text=True
    )
    assert inherited.stdout.split("|") == base_site_paths(), "a version passes the base on: no nesting"
    state = read_state(home)
    assert state.switch_to == "0.9.7" and state.active is None
    assert not list((versions_dir(home) / ".downloads").glob("*"))


@pytest.mark.slow
async def test_a_wheel_whose_code_is_another_version_is_refused_after_the_install_check(
    tmp_path: Path,
) -> None:
    wheel = build_agent_wheel(tmp_path, "0.9.9", code_version="0.9.8").read_bytes()
    async with worker_with_chunks(tmp_path / "home", "0.9.9", wheel) as (gateway, running):
        await gateway.send(offer(gateway, "0.9.9", wheel))
        await gateway.wait_for(lambda: any(s["state"] == "failed" for s in statuses(gateway, "0.9.9")), 60)

        report = statuses(gateway, "0.9.9")[-1]
        assert report["reason"] == "the wheel holds agent version '0.9.8', not '0.9.9'"
        assert not running.done(), "no switch"
    home = Home(tmp_path / "home")
    assert not version_dir(home, "0.9.9").exists(), "the failed environment is removed"
    assert read_state(home).switch_to is None
