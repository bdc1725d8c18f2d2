"""Roles: the worked example from docs/roles.md as a drop-in, reloading, broken files, entry points."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from borealis.agent.roles import JobRequest, RoleContext, RunContext
from borealis.agent.roles.registry import RoleRegistry, RoleUnavailable
from tests.agent.worker_harness import Harness, running_worker, script

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "role_echo.py"


def install_echo(roles_dir: Path, version: str) -> Path:
    """The documented example, with its VERSION changed; a new mtime and size make it a new version."""
    roles_dir.mkdir(parents=True, exist_ok=True)
    target = roles_dir / "role_echo.py"
    text = EXAMPLE.read_text().replace('VERSION = "1"', f'VERSION = "{version}"  # {"x" * int(version)}')
    tmp = roles_dir / ".role_echo.tmp"
    tmp.write_text(text)
    os.replace(tmp, target)
    return target


async def health_of(agent: Harness, name: str) -> dict[str, object]:
    seen = len(agent.gateway.heartbeats())
    await agent.gateway.wait_for(lambda: len(agent.gateway.heartbeats()) > seen + 1)
    report: dict[str, object] = agent.gateway.heartbeats()[-1]["roles_health"].get(name, {})
    return report


async def test_a_drop_in_role_is_picked_up_and_replaced_without_a_restart(tmp_path: Path) -> None:
    async with running_worker(tmp_path, roles_scan_s=0.2) as agent:
        assert "echo" not in agent.gateway.heartbeats()[-1]["roles_health"]
        install_echo(agent.home.agent_roles, "1")
        first = await agent.run(agent.job("echo", {"text": "hello"}))
        assert first["status"] == "succeeded" and first["stdout_tail"] == "hello\n"
        assert first["data"] == {"version": "1"}
        assert await health_of(agent, "echo") == {
            "ok": True,
            "source": "dropin",
            "version": "1",
            "error": None,
        }

        slow = agent.job("echo", {"text": "old", "delay_s": 1.0})
        await agent.gateway.send(slow)
        await agent.gateway.wait_for(lambda: agent.gateway.received("job.accepted", slow["job_id"]))
        install_echo(agent.home.agent_roles, "2")
        second = await agent.run(agent.job("echo", {"text": "new", "shout": True}))
        assert second["data"] == {"version": "2"} and second["stdout_tail"] == "NEW\n"
        finished_on_old = await agent.result(slow["job_id"])
        assert finished_on_old["data"] == {"version": "1"}  # a running job ends on the version it began on
        assert (await health_of(agent, "echo"))["version"] == "2"


async def test_a_drop_in_that_times_out_is_cancelled(tmp_path: Path) -> None:
    async with running_worker(tmp_path) as agent:
        install_echo(agent.home.agent_roles, "1")
        result = await agent.run(agent.job("echo", {"text": "zz", "delay_s": 30}, timeout_s=0.5))
        assert result["status"] == "timed_out"


async def test_a_broken_drop_in_is_reported_and_the_agent_keeps_working(tmp_path: Path) -> None:
    async with running_worker(tmp_path, roles_scan_s=0.2) as agent:
        roles = agent.home.agent_roles
        roles.mkdir(parents=True, exist_ok=True)
        (roles / "role_broken.py").write_text("raise RuntimeError('boom at import')\n")
        (roles / "role_empty.py").write_text("x = 1\n")
        broken = await health_of(agent, "broken")
        assert broken["ok"] is False and "boom at import" in str(broken["error"])
        assert "defines no create_role" in str((await health_of(agent, "empty"))["error"])
        refused = await agent.run(agent.job("broken"))
        assert refused["status"] == "failed" and "boom at import" in refused["error"]
        ok = await agent.run(agent.job(params=script("echo still here")))
        assert ok["status"] == "succeeded" and ok["stdout_tail"] == "still here\n"

        shutil.copy(EXAMPLE, roles / "role_broken.py")  # fixed, but it declares the name "echo"
        await agent.gateway.wait_for(lambda: "echo" in str(agent.gateway.heartbeats()[-1]["roles_health"]))
        assert "named 'echo'" in str((await health_of(agent, "broken"))["error"])
        (roles / "role_broken.py").unlink()
        await agent.gateway.wait_for(lambda: "broken" not in agent.gateway.heartbeats()[-1]["roles_health"])


async def test_entry_point_roles_load_at_first_use_and_failures_are_contained(
    tmp_path: Path, monkeypatch: object
) -> None:
    import borealis.agent.roles.registry as registry_module

    def fake_entry_points() -> dict[str, object]:
        from borealis.agent.roles.health import HealthRole

        class Vitals(HealthRole):
            name = "vitals"

        def broken() -> object:
            raise ImportError("no module named vendor_thing")

        return {"vitals": lambda: Vitals, "vendor": broken}

    monkeypatch.setattr(registry_module, "_entry_point_factories", fake_entry_points)  # type: ignore[attr-defined]
    ctx = RoleContext(agent_id="agt", home_root=tmp_path, tmp_dir=tmp_path / "tmp")
    registry = RoleRegistry(ctx, tmp_path / "Roles")
    await registry.start()
    assert registry.health()["vitals"] == {
        "ok": True,
        "source": "entry_point",
        "version": None,
        "error": None,
    }
    slot = await registry.acquire("vitals")
    result = await slot.role.execute(JobRequest("j1", "vitals", {}, RunContext.SYSTEM, 5), ctx)
    assert result.data and result.data["pid"] == os.getpid()
    registry.release(slot)
    try:
        await registry.acquire("vendor")
    except RoleUnavailable as exc:
        assert "vendor_thing" in str(exc)
    else:
        raise AssertionError("a broken entry point must not load")
    assert registry.health()["vendor"]["ok"] is False
    await registry.stop()
    await asyncio.sleep(0)
