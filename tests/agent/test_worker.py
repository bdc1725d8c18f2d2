"""The worker in-process against a fake gateway: status file, refusals, internal heartbeat, stop."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from borealis.agent.assembly import build_worker
from borealis.agent.service.status_file import ConnectionState, read_status
from borealis.core.settings import load_agent_settings
from borealis.protocol import keys
from tests.agent.fakes import FakeGateway, enrolled_home


async def test_worker_connects_beats_internally_and_stops_cleanly(tmp_path: Path) -> None:
    async with FakeGateway(heartbeat_s=0.2) as gateway:
        home, identity, key = enrolled_home(tmp_path, gateway.url, gateway.key)
        gateway.agent_keys[identity.agent_id] = key
        beat_r, beat_w = os.pipe()
        worker = build_worker(home, load_agent_settings(home), startup_delay=False, beat_fd=beat_w)
        running = asyncio.create_task(worker.run())
        await gateway.wait_for(lambda: len(gateway.heartbeats()) >= 2)
        status = read_status(home)
        assert status is not None and status.state is ConnectionState.CONNECTED
        assert status.pid == os.getpid() and status.agent_id == identity.agent_id
        assert os.read(beat_r, 100).startswith(b"beat\n")
        worker.request_stop()
        assert await asyncio.wait_for(running, 5) == 0
        await gateway.wait_for(lambda: gateway.sessions[0].close_code == 1000)
    stopped = read_status(home)
    assert (
        stopped is not None and stopped.state is ConnectionState.STOPPED and stopped.connected_since is None
    )
    os.close(beat_r)
    os.close(beat_w)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize(
    ("gateway_options", "close_code", "why"),
    [
        ({"refuse": (4403, "agent revoked")}, 4403, "agent revoked"),
        ({"refuse": (4401, "")}, 4401, "unknown agent"),
        ({"sign_with": keys.generate()}, None, "server key mismatch"),
    ],
    ids=["revoked", "unknown", "server-key-mismatch"],
)
async def test_a_refused_worker_records_why_and_stays_away(
    tmp_path: Path, gateway_options: dict[str, Any], close_code: int | None, why: str
) -> None:
    worker_log, captured = logging.getLogger("borealis.agent.worker"), Records()
    worker_log.addHandler(captured)  # works whether or not `borealis` propagates to the root
    try:
        async with FakeGateway(**gateway_options) as gateway:
            home, identity, key = enrolled_home(tmp_path, gateway.url, gateway.key, backoff_cap_s=30.0)
            gateway.agent_keys[identity.agent_id] = key
            worker = build_worker(home, load_agent_settings(home), startup_delay=False, beat_fd=None)
            running = asyncio.create_task(worker.run())

            def refused() -> bool:
                status = read_status(home)
                return status is not None and status.last_error == why

            await gateway.wait_for(refused)
            await asyncio.sleep(1.0)  # watching for a second attempt that must not come
            assert len(gateway.attempts) == 1
            status = read_status(home)
            assert status is not None and status.last_close_code == close_code
            assert status.state is ConnectionState.DISCONNECTED
            worker.request_stop()
            assert await asyncio.wait_for(running, 5) == 0
    finally:
        worker_log.removeHandler(captured)
    refusals = [r for r in captured.records if r.getMessage() == "server refused the agent"]
    assert len(refusals) == 1
    assert refusals[0].kv["close_code"] == close_code  # type: ignore[attr-defined]
    assert refusals[0].kv["reason"] == why  # type: ignore[attr-defined]
    assert refusals[0].kv["retry_in_s"] >= 15.0  # type: ignore[attr-defined]


async def test_a_closed_supervisor_pipe_stops_the_worker(tmp_path: Path) -> None:
    async with FakeGateway(heartbeat_s=0.2) as gateway:
        home, identity, key = enrolled_home(tmp_path, gateway.url, gateway.key)
        gateway.agent_keys[identity.agent_id] = key
        beat_r, beat_w = os.pipe()
        os.close(beat_r)  # the supervisor is gone
        worker = build_worker(home, load_agent_settings(home), startup_delay=False, beat_fd=beat_w)
        assert await asyncio.wait_for(worker.run(), 10) == 0
        os.close(beat_w)


def test_the_worker_caps_glibc_malloc_arenas() -> None:
    import platform

    from borealis.agent.worker import limit_malloc_arenas

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt(M_ARENA_MAX) is glibc's")
    assert limit_malloc_arenas() is True
