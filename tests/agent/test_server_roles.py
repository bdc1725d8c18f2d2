"""Roles the server sends: verified, hot-loaded, versioned, removed; tampered or stale frames refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borealis.protocol import keys
from borealis.protocol.roles import (
    INSTALL,
    REMOVE,
    STATUS,
    body_sha256,
    role_install_payload,
    role_remove_payload,
)
from tests.agent.test_roles import EXAMPLE, health_of
from tests.agent.worker_harness import Harness, running_worker


def example(version: str) -> str:
    return EXAMPLE.read_text().replace('VERSION = "1"', f'VERSION = "{version}"')


def install_frame(key: Ed25519PrivateKey, name: str, version: int, body: str) -> dict[str, Any]:
    sha256 = body_sha256(body)
    return {
        "t": INSTALL,
        "name": name,
        "version": version,
        "body": body,
        "sha256": sha256,
        "signature": keys.sign(key, role_install_payload(name, version, sha256)),
    }


def remove_frame(key: Ed25519PrivateKey, name: str, version: int) -> dict[str, Any]:
    return {
        "t": REMOVE,
        "name": name,
        "version": version,
        "signature": keys.sign(key, role_remove_payload(name, version)),
    }


async def status_after(agent: Harness, frame: dict[str, Any]) -> dict[str, Any]:
    seen = len(agent.gateway.received(STATUS))
    await agent.gateway.send(frame)
    await agent.gateway.wait_for(lambda: len(agent.gateway.received(STATUS)) > seen)
    return agent.gateway.received(STATUS)[-1]


async def test_a_role_from_the_server_is_verified_loaded_and_runs_jobs_without_a_restart(
    tmp_path: Path,
) -> None:
    async with running_worker(tmp_path, roles_scan_s=0.2) as agent:
        status = await status_after(agent, install_frame(agent.gateway.key, "echo", 1, example("a")))
        assert status == {
            "t": STATUS,
            "name": "echo",
            "version": 1,
            "ok": True,
            "removed": False,
            "error": None,
        }
        result = await agent.run(agent.job("echo", {"text": "from the server"}))
        assert result["status"] == "succeeded" and result["stdout_tail"] == "from the server\n"
        health = await health_of(agent, "echo")
        assert health["source"] == "server" and health["version"] == "1" and health["ok"]

        status = await status_after(agent, install_frame(agent.gateway.key, "echo", 2, example("b")))
        assert status["ok"] and status["version"] == 2
        assert (await health_of(agent, "echo"))["version"] == "2"

        status = await status_after(agent, remove_frame(agent.gateway.key, "echo", 2))
        assert status["ok"] and status["removed"]
        refused = await agent.run(agent.job("echo", {"text": "x"}))
        assert refused["status"] == "failed" and "unknown role 'echo'" in refused["error"]
        assert not (agent.home.agent_roles / "Server" / "role_echo.py").exists()


async def test_tampered_unsigned_and_stale_role_frames_are_refused(tmp_path: Path) -> None:
    async with running_worker(tmp_path, roles_scan_s=0.2) as agent:
        key = agent.gateway.key
        tampered = install_frame(key, "echo", 1, example("a"))
        tampered["body"] += "\nimport os\nos.system('touch /tmp/owned')\n"
        tampered["sha256"] = body_sha256(
            tampered["body"]
        )  # a consistent hash, but the signature is over the old one
        status = await status_after(agent, tampered)
        assert not status["ok"] and "bad signature" in status["error"]

        forged = install_frame(keys.generate(), "echo", 1, example("a"))
        assert "bad signature" in (await status_after(agent, forged))["error"]

        mismatched = install_frame(key, "echo", 1, example("a"))
        mismatched["body"] = example("z")
        assert "does not match its sha256" in (await status_after(agent, mismatched))["error"]

        bad_name = install_frame(key, "../evil", 1, example("a"))
        assert "name is not valid" in (await status_after(agent, bad_name))["error"]
        assert not (agent.home.agent_roles / "Server").exists() or not list(
            (agent.home.agent_roles / "Server").glob("role_*.py")
        )

        assert (await status_after(agent, install_frame(key, "echo", 3, example("c"))))["ok"]
        stale = await status_after(agent, install_frame(key, "echo", 2, example("b")))
        assert not stale["ok"] and "older than the 3" in stale["error"]
        assert (await status_after(agent, remove_frame(key, "echo", 3)))["removed"]
        replayed = await status_after(agent, install_frame(key, "echo", 3, example("c")))
        assert not replayed["ok"], "an install replayed after its removal must not come back"
        assert (await health_of(agent, "echo")) == {}


async def test_a_local_drop_in_of_the_same_name_takes_precedence(tmp_path: Path) -> None:
    async with running_worker(tmp_path, roles_scan_s=0.2) as agent:
        agent.home.agent_roles.mkdir(parents=True, exist_ok=True)
        (agent.home.agent_roles / "role_echo.py").write_text(example("local"))
        status = await status_after(agent, install_frame(agent.gateway.key, "echo", 1, example("a")))
        assert not status["ok"] and "local drop-in" in status["error"]
        assert (await health_of(agent, "echo"))["source"] == "dropin"
