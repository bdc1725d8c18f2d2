"""The outbox: results survive lost connections and dead workers, and the file stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from borealis.agent.link.outbox import Outbox
from borealis.agent.service.status_file import read_status
from tests.agent.agent_process import AgentProcess
from tests.agent.fakes import FakeGateway, enrolled_home
from tests.agent.worker_harness import group_members, running_worker, script


async def test_a_result_is_re_sent_after_each_reconnect_until_it_is_acked(tmp_path: Path) -> None:
    async with (
        FakeGateway(heartbeat_s=0.2, ack=False) as gateway,
        running_worker(tmp_path, gateway, backoff_cap_s=0.5) as agent,
    ):
        frame = agent.job(params=script("echo hi; exit 3"))
        first = await agent.run(frame)
        await gateway.drop()  # gone before any ack
        await gateway.wait_welcomed(2)
        await gateway.wait_for(lambda: len(gateway.results(frame["job_id"])) == 2)
        resent = [m for m in gateway.sessions[1].messages if m["t"] != "heartbeat"]
        assert [m["t"] for m in resent] == ["job.accepted", "job.result"]  # in their order
        assert resent[1] == first

        gateway.ack = True
        await gateway.drop()
        await gateway.wait_welcomed(3)
        await gateway.wait_for(lambda: len(gateway.results(frame["job_id"])) == 3)
        await gateway.wait_for(lambda: (s := read_status(agent.home)) is not None and s.outbox_pending == 0)
        await gateway.drop()
        await gateway.wait_welcomed(4)
        await asyncio.sleep(0.5)
        assert len(gateway.results(frame["job_id"])) == 3  # acked: never sent again
        assert {r["msg_id"] for r in gateway.results(frame["job_id"])} == {first["msg_id"]}
        assert len(gateway.received("job.accepted", frame["job_id"])) == 3


async def test_a_full_outbox_drops_the_oldest_non_results_first(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", max_messages=3, max_bytes=1 << 20)
    await outbox.open()
    await outbox.put({"t": "job.result", "msg_id": "r1", "job_id": "a"})
    await outbox.put({"t": "job.accepted", "msg_id": "a1", "job_id": "b"})
    await outbox.put({"t": "job.result", "msg_id": "r2", "job_id": "c"})
    await outbox.put({"t": "job.accepted", "msg_id": "a2", "job_id": "d"})
    assert [m["msg_id"] for m in await outbox.unacked()] == ["r1", "r2", "a2"]
    await outbox.put({"t": "job.result", "msg_id": "r3", "job_id": "e"})
    await outbox.put({"t": "job.result", "msg_id": "r4", "job_id": "f"})
    assert [m["msg_id"] for m in await outbox.unacked()] == ["r2", "r3", "r4"]
    assert outbox.dropped == 3 and outbox.pending == 3
    assert await outbox.ack("r3") and not await outbox.ack("r3")
    await outbox.close()

    reopened = Outbox(tmp_path / "outbox.db", max_messages=3, max_bytes=1 << 20)
    await reopened.open()
    assert [m["msg_id"] for m in await reopened.unacked()] == ["r2", "r4"]
    assert reopened.dropped == 3
    assert await reopened.remember("job1", time.time() + 60)
    assert not await reopened.remember("job1", time.time() + 60)
    await reopened.close()


async def test_a_damaged_outbox_is_moved_aside_and_the_agent_carries_on(tmp_path: Path) -> None:
    (tmp_path / "outbox.db").write_bytes(b"this is not a database" * 100)
    outbox = Outbox(tmp_path / "outbox.db", max_messages=10, max_bytes=1 << 20)
    await outbox.open()
    await outbox.put({"t": "job.result", "msg_id": "r1"})
    assert [m["msg_id"] for m in await outbox.unacked()] == ["r1"]
    await outbox.close()
    assert len(list(tmp_path.glob("outbox.db.damaged-*"))) == 1


async def test_a_clean_stop_during_a_job_reports_it_interrupted(tmp_path: Path) -> None:
    async with FakeGateway(heartbeat_s=0.2) as gateway:
        async with running_worker(tmp_path, gateway) as agent:
            frame = agent.job(params=script("echo $$; sleep 30"))
            await gateway.send(frame)
            await gateway.wait_for(lambda: gateway.received("job.output", frame["job_id"]))
            pgid = int(gateway.received("job.output", frame["job_id"])[0]["chunk"])
        assert group_members(pgid) == []  # the worker stopped: the job's processes went with it
        async with running_worker(tmp_path, gateway):
            result = await agent.result(frame["job_id"])
        assert result["status"] == "interrupted"


@pytest.mark.slow
async def test_a_worker_killed_during_a_job_reports_it_interrupted_after_restart(tmp_path: Path) -> None:
    async with FakeGateway(heartbeat_s=0.2) as gateway:
        process = AgentProcess(tmp_path / "home")
        _, identity, key = enrolled_home(process.home.root, gateway.url, gateway.key)
        gateway.agent_keys[identity.agent_id] = key
        process.start()
        pgid: int | None = None
        try:
            await gateway.wait_welcomed(1, timeout=20)
            frame = gateway.job(identity.agent_id, params=script("echo $$; sleep 60"))
            await gateway.send(frame)
            await gateway.wait_for(lambda: gateway.received("job.output", frame["job_id"]))
            pgid = int(gateway.received("job.output", frame["job_id"])[0]["chunk"])
            worker = process.worker_pid()
            assert worker is not None
            os.kill(worker, signal.SIGKILL)
            await gateway.wait_for(lambda: gateway.results(frame["job_id"]), timeout=30)
            result = gateway.results(frame["job_id"])[0]
            assert result["status"] == "interrupted" and result["job_id"] == frame["job_id"]
            assert len(gateway.sessions) >= 2 and result in gateway.sessions[-1].messages
            await gateway.wait_for(lambda: group_members(pgid) == [], timeout=5)  # the new worker ended it
        finally:
            process.close()
            if pgid is not None:  # the SIGKILLed worker could not end its job's processes
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)


async def test_co_signature_nonces_are_kept_across_a_restart_and_repeatable_ones_are_rate_bound(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    later = time.time() + 600
    outbox = Outbox(path, 100, 1 << 20)
    await outbox.open()
    assert await outbox.claim_nonce("n-once", "job-a", later)
    assert await outbox.claim_nonce(
        "n-once", "job-a", later
    )  # the same job sent again: the job ids answer it
    assert not await outbox.claim_nonce("n-once", "job-b", later)
    assert await outbox.claim_nonce("n-hourly", "job-1", later, 3600)
    assert await outbox.claim_nonce("n-hourly", "job-2", later, 3600)  # one use ahead, for a late delivery
    assert not await outbox.claim_nonce("n-hourly", "job-3", later, 3600)
    await outbox.close()

    reopened = Outbox(path, 100, 1 << 20)
    await reopened.open()
    try:
        assert not await reopened.claim_nonce("n-once", "job-c", later)
        assert not await reopened.claim_nonce("n-hourly", "job-4", later, 3600)
        assert await reopened.claim_nonce("n-other", "job-d", later)
    finally:
        await reopened.close()
