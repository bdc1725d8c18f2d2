"""The inventory service: what it sends, when it sends nothing, and the inventory role end to end."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from borealis.agent.inventory.collectors import Collector, CollectorConfig, Collectors
from borealis.agent.inventory.service import InventoryService, Schedule
from borealis.agent.link.outbox import Outbox
from borealis.agent.link.uplink import Uplink
from borealis.protocol.inventory import SECTIONS, section_hash, unpack_data
from tests.agent.worker_harness import running_worker


class Machine:
    """Collectors whose answers the test sets."""

    def __init__(self) -> None:
        self.cpu: dict[str, Any] = {"model": "Test CPU", "logical_cores": 4}
        self.users: list[dict[str, Any]] = [{"name": "ada"}]
        self.calls = 0

    def collectors(self) -> dict[str, Collector]:
        def cpu() -> Any:
            self.calls += 1
            return dict(self.cpu)

        return {"cpu": Collector(blocking=cpu), "users": Collector(blocking=lambda: list(self.users))}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def inventory_frames(outbox: Outbox) -> list[dict[str, Any]]:
    return [m for m in await outbox.unacked() if m["t"] == "inventory"]


def make_service(
    tmp_path: Path, machine: Machine, clock: Clock, outbox: Outbox, **schedule: Any
) -> InventoryService:
    service = InventoryService(
        Collectors(CollectorConfig(), machine.collectors()),
        Schedule(**{"enabled": False, **schedule}),
        tmp_path / "inventory.json",
        clock=clock,
    )
    service.attach(outbox, Uplink(outbox))
    return service


async def test_only_changed_sections_are_sent_even_across_a_restart(tmp_path: Path) -> None:
    machine, clock = Machine(), Clock()
    outbox = Outbox(tmp_path / "outbox.db", 100, 10 * 1024 * 1024)
    await outbox.open()
    service = make_service(tmp_path, machine, clock, outbox, resend_after_s=3600)
    await service.start()

    collected = await service.refresh(["cpu", "users"], force=False)
    [first] = await inventory_frames(outbox)
    assert set(first["sections"]) == {"cpu", "users"}
    cpu = first["sections"]["cpu"]
    assert unpack_data(cpu) == machine.cpu and cpu["hash"] == section_hash(machine.cpu)
    assert cpu["hash"] == collected["cpu"]["hash"] and cpu["error"] is None and cpu["collected_at"]

    await service.refresh(["cpu", "users"], force=False)
    assert len(await inventory_frames(outbox)) == 1  # nothing changed: nothing sent

    machine.cpu["logical_cores"] = 8
    await service.refresh(["cpu", "users"], force=False)
    frames = await inventory_frames(outbox)
    assert len(frames) == 2 and set(frames[1]["sections"]) == {"cpu"}

    await service.refresh(["cpu", "users"], force=True)
    assert set((await inventory_frames(outbox))[2]["sections"]) == {"cpu", "users"}
    await service.stop()

    restarted = make_service(tmp_path, machine, clock, outbox, resend_after_s=3600)
    await restarted.start()
    await restarted.refresh(["cpu", "users"], force=False)
    assert len(await inventory_frames(outbox)) == 3  # the restart remembered what was sent

    clock.now += 3601
    await restarted.refresh(["cpu", "users"], force=False)
    assert set((await inventory_frames(outbox))[3]["sections"]) == {"cpu", "users"}  # sent again, a day on
    await restarted.stop()
    await outbox.close()


async def test_everything_is_sent_again_after_the_outbox_dropped_messages(tmp_path: Path) -> None:
    machine, clock = Machine(), Clock()
    outbox = Outbox(tmp_path / "outbox.db", 2, 10 * 1024 * 1024)
    await outbox.open()
    service = make_service(tmp_path, machine, clock, outbox)
    await service.start()
    await service.refresh(["cpu", "users"], force=False)
    for n in range(2):  # a long time offline: the outbox overflows and drops the oldest
        await outbox.put({"t": "heartbeat", "msg_id": f"filler-{n}"})
    assert outbox.dropped == 1 and not await inventory_frames(outbox)

    await service.refresh(["cpu", "users"], force=False)
    [again] = await inventory_frames(outbox)
    assert set(again["sections"]) == {"cpu", "users"}
    await service.stop()
    await outbox.close()


async def test_the_schedule_collects_first_soon_then_every_interval(tmp_path: Path) -> None:
    machine, clock = Machine(), Clock()
    outbox = Outbox(tmp_path / "outbox.db", 100, 10 * 1024 * 1024)
    await outbox.open()
    every = {name: 0.0 for name in SECTIONS} | {"cpu": 0.2, "users": 30.0}
    service = make_service(tmp_path, machine, clock, outbox, enabled=True, first_after_s=0.1, every_s=every)
    await service.start()
    try:
        await asyncio.sleep(1.0)
        assert 3 <= machine.calls <= 8
        frames = await inventory_frames(outbox)
        assert len(frames) == 1 and set(frames[0]["sections"]) == {"cpu", "users"}  # later rounds: unchanged
    finally:
        await service.stop()
        await outbox.close()


@pytest.mark.slow
async def test_the_inventory_role_sends_its_sections_before_its_result(tmp_path: Path) -> None:
    async with running_worker(tmp_path, inventory_first_after_s=3600.0) as agent:
        job = agent.job(
            "inventory", {"sections": ["system", "processes", "software"], "force": True}, timeout_s=120
        )
        result = await agent.run(job, timeout=120)
        assert result["status"] == "succeeded" and result["exit_code"] == 0
        session = agent.gateway.sessions[-1].messages
        kinds = [m["t"] for m in session]
        assert kinds.index("inventory") < kinds.index("job.result")
        [frame] = agent.gateway.received("inventory")
        assert set(frame["sections"]) == {"system", "processes", "software"}
        for name, summary in result["data"]["sections"].items():
            assert summary == {"hash": frame["sections"][name]["hash"], "error": None}
        processes = unpack_data(frame["sections"]["processes"])
        assert os.getpid() in {p["pid"] for p in processes}  # the worker runs in this test's process
        assert unpack_data(frame["sections"]["system"])["hostname"] == os.uname().nodename

        again = await agent.run(agent.job("inventory", {"sections": ["system", "software"]}), timeout=120)
        assert again["status"] == "succeeded"
        assert len(agent.gateway.received("inventory")) == 1  # unchanged, not forced: nothing new sent

        bad = await agent.run(agent.job("inventory", {"sections": ["kitchen"]}))
        assert bad["status"] == "failed" and "unknown sections ['kitchen']" in bad["error"]


@pytest.mark.slow
async def test_a_fresh_agent_sends_a_full_inventory_soon_after_start(tmp_path: Path) -> None:
    async with running_worker(tmp_path, inventory_first_after_s=0.2) as agent:
        await agent.gateway.wait_for(lambda: agent.gateway.received("inventory"), timeout=90)
        sections = {name: s for f in agent.gateway.received("inventory") for name, s in f["sections"].items()}
        assert set(sections) == set(SECTIONS)
        failed = {name: s["error"] for name, s in sections.items() if s["error"]}
        assert not failed
        # The sent-state file is saved just after the frames are queued: give it a moment on a busy machine.
        await agent.gateway.wait_for(lambda: (agent.home.agent / "inventory.json").exists(), timeout=10)
