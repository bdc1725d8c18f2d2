"""Jobs end to end against a real `borealis server`: the test agents (tests/server/fleet.py) speak the
real protocol, so what is checked is what an agent receives (signed frames, acks) and what an operator
sees through the API (rows, states, exit codes, output, live events)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from borealis.protocol.jobs import job_payload
from tests.conftest import ServerProcess, running_server
from tests.server.fleet import EnrolledAgent, Session, enrolled_agent, job_is_signed_by, open_session
from tests.support import eventually

pytestmark = pytest.mark.slow

SCRIPT = {"language": "bash", "script": "echo hi; echo oops >&2; exit 3"}


@pytest.fixture
def job_server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path / "server-home", db_url, job_sweep_s=0.2, job_sent_grace_s=0.5, max_output_bytes=1000
    ) as process:
        yield process


@pytest.fixture
async def api(job_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {job_server.token}"}
    async with httpx.AsyncClient(base_url=job_server.url, headers=headers, timeout=20) as client:
        yield client
    log = job_server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "level=error" not in log, log[-3000:]


async def online(job_server: ServerProcess, api: httpx.AsyncClient, agent: EnrolledAgent) -> Session:
    session = await open_session(job_server.url, agent)
    assert session.welcome is not None
    session.keep_beating()
    await eventually(lambda: _status_is(api, agent.agent_id, "online"), 3, "online")
    return session


async def _status_is(api: httpx.AsyncClient, agent_id: str, status: str) -> bool:
    return bool((await api.get(f"/api/v1/agents/{agent_id}")).json()["status"] == status)


async def submit(api: httpx.AsyncClient, target: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"role": "script", "params": SCRIPT, "target": target, **fields}
    response = await api.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


async def job_of(api: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def rows_are(api: httpx.AsyncClient, job_id: str, wanted: dict[str, str]) -> bool:
    rows = {row["agent_id"]: row["status"] for row in (await job_of(api, job_id))["results"]}
    return all(rows.get(agent_id) == status for agent_id, status in wanted.items())


async def test_a_job_reaches_the_agent_signed_and_its_result_is_stored_once(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {}, hostname="web-01")
    session = await online(job_server, api, agent)
    job = await submit(api, {"agents": [agent.agent_id]}, timeout_s=60, expires_in_s=600)
    assert job["status"] == "queued" and job["counts"]["queued"] == 1 and job["agent_count"] == 1

    frame = await session.receive("job")
    assert job_is_signed_by(frame, agent.server_public_key)
    assert frame["job_id"] == job["id"] and frame["agent_id"] == agent.agent_id
    assert frame["role"] == "script" and frame["run_as"] == "system" and frame["timeout_s"] == 60
    assert frame["params"] == {**SCRIPT, "args": [], "env": {}, "cwd": None}
    assert abs(frame["not_after"] - (time.time() + 600)) < 10
    tampered = {**frame, "params": {**frame["params"], "script": "rm -rf /"}}
    assert not job_is_signed_by(tampered, agent.server_public_key)
    assert job_payload(frame) != job_payload(tampered)
    await eventually(lambda: rows_are(api, job["id"], {agent.agent_id: "sent"}), 3, "sent")

    await session.accept(job["id"], msg_id="m-accept")
    assert (await session.receive("ack"))["msg_id"] == "m-accept"
    await eventually(lambda: rows_are(api, job["id"], {agent.agent_id: "running"}), 3, "running")
    await session.output(job["id"], "hi\n")
    for _ in range(2):  # at least once: the outbox re-sends until acked
        msg_id = await session.result(
            job["id"], "failed", 3, stdout_tail="hi\n", stderr_tail="oops\n", msg_id="m-result"
        )
        assert (await session.receive("ack"))["msg_id"] == msg_id
    # A late, different result for a final row changes nothing, and is acked all the same.
    await session.result(job["id"], "succeeded", 0, stdout_tail="other", msg_id="m-late")
    assert (await session.receive("ack"))["msg_id"] == "m-late"

    stored = await job_of(api, job["id"])
    assert stored["status"] == "failed"
    assert stored["counts"]["failed"] == 1 and sum(stored["counts"].values()) == 1
    [row] = stored["results"]
    assert row["agent_id"] == agent.agent_id and row["status"] == "failed" and row["exit_code"] == 3
    assert row["stdout"] == "hi\n" and row["stderr"] == "oops\n"
    assert row["started_at"] and row["finished_at"] and row["sent_at"]
    listed = (await api.get("/api/v1/jobs")).json()["items"]
    assert [item["id"] for item in listed] == [job["id"]] and listed[0]["status"] == "failed"
    audit = (await api.get("/api/v1/audit", params={"action": "job.submit"})).json()["items"]
    assert audit and audit[0]["target"] == job["id"]
    await session.close()


async def test_bad_job_frames_are_ignored_and_stored_output_is_bounded(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    session = await online(job_server, api, agent)
    job = await submit(api, {"agents": [agent.agent_id]})
    frame = await session.receive("job")
    bad: list[dict[str, Any]] = [
        {"t": "job.result", "msg_id": "x1", "job_id": frame["job_id"], "status": "running"},  # not final
        {"t": "job.result", "msg_id": "x2", "job_id": frame["job_id"], "status": "bogus"},
        {"t": "job.result", "msg_id": "x3", "job_id": "../etc", "status": "failed"},
        {"t": "job.result", "msg_id": "x4", "job_id": frame["job_id"], "status": "failed", "exit_code": "3"},
        {"t": "job.result", "msg_id": "x5", "job_id": frame["job_id"], "status": "failed", "data": [1]},
        {"t": "job.result", "job_id": frame["job_id"], "status": "failed"},  # no msg_id
        {
            "t": "job.result",
            "msg_id": "x6",
            "job_id": frame["job_id"],
            "status": "failed",
            "started_at": "soon",
        },
        {"t": "job.accepted", "job_id": 42},
        {"t": "job.output", "job_id": frame["job_id"], "stream": "stdin", "chunk": "x"},
        {"t": "job.output", "job_id": frame["job_id"], "stream": "stdout", "chunk": "x" * 200_000},
    ]
    for message in bad:
        await session.send(message)
    assert await session.nothing_of("ack", 0.5)
    # A result for a job this agent never had is acked (so it leaves the outbox) and stores nothing.
    await session.result("0" * 32, "succeeded", 0, msg_id="stranger")
    assert (await session.receive("ack"))["msg_id"] == "stranger"
    long = "é" * 3000 + "ok\x00\n"  # over max_output_bytes (1000 here): the tail is kept
    await session.result(frame["job_id"], "succeeded", 0, stdout_tail=long, stderr_tail="e", msg_id="good")
    assert (await session.receive("ack"))["msg_id"] == "good"
    [row] = (await job_of(api, job["id"]))["results"]
    assert row["status"] == "succeeded" and row["exit_code"] == 0 and row["stderr"] == "e"
    assert row["stdout"].endswith("éok\ufffd\n") and len(row["stdout"].encode()) <= 1000
    assert row["flags"] == ["stdout_truncated"]
    assert await _status_is(api, agent.agent_id, "online")
    await session.close()


async def test_a_job_for_an_offline_agent_waits_for_it_and_one_that_expires_says_expired(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    soon = await submit(api, {"agents": [agent.agent_id]}, expires_in_s=0.5)
    later = await submit(api, {"agents": [agent.agent_id]}, expires_in_s=600)
    await eventually(lambda: rows_are(api, soon["id"], {agent.agent_id: "expired"}), 5, "expired")
    assert (await job_of(api, soon["id"]))["status"] == "expired"
    assert (await job_of(api, later["id"]))["results"][0]["status"] == "queued"

    session = await online(job_server, api, agent)
    frame = await session.receive("job")
    assert frame["job_id"] == later["id"] and job_is_signed_by(frame, agent.server_public_key)
    assert await session.nothing_of("job", 0.5)  # the expired one never goes out
    await session.accept(later["id"])
    await session.result(later["id"], "succeeded", 0, stdout_tail="done\n")
    await eventually(lambda: rows_are(api, later["id"], {agent.agent_id: "succeeded"}), 3, "succeeded")
    await session.close()


async def test_a_job_sent_to_a_connection_that_dropped_is_sent_again_on_the_next_one(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    first = await online(job_server, api, agent)
    job = await submit(api, {"agents": [agent.agent_id]})
    frame = await first.receive("job")
    await first.close()
    await eventually(lambda: _status_is(api, agent.agent_id, "offline"), 3, "offline")
    second = await online(job_server, api, agent)
    again = await second.receive("job")
    assert again["job_id"] == frame["job_id"] and job_is_signed_by(again, agent.server_public_key)
    # An agent that had the first copy refuses the second as a replay: that is no outcome of the job.
    refusal = "replayed job: this job id was already received"
    await second.result(job["id"], "failed", None, error=refusal, msg_id="replay")
    assert (await second.receive("ack"))["msg_id"] == "replay"
    assert await rows_are(api, job["id"], {agent.agent_id: "sent"})
    await second.result(job["id"], "succeeded", 0)
    await second.receive("ack")
    assert (await job_of(api, job["id"]))["status"] == "succeeded"
    await second.close()


async def test_cancel_ends_queued_rows_at_once_and_asks_running_agents_to_stop(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    busy = await enrolled_agent(api, {}, hostname="busy")
    away = await enrolled_agent(api, {}, hostname="away")
    session = await online(job_server, api, busy)
    job = await submit(api, {"agents": [busy.agent_id, away.agent_id]})
    await session.receive("job")
    await session.accept(job["id"], msg_id="m-accept")
    assert (await session.receive("ack"))["msg_id"] == "m-accept"  # not to be taken for the result's
    await eventually(lambda: rows_are(api, job["id"], {busy.agent_id: "running"}), 3, "running")

    response = await api.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["cancelled"] == 1 and response.json()["counts"]["running"] == 1
    assert await rows_are(api, job["id"], {away.agent_id: "cancelled", busy.agent_id: "running"})
    cancel = await session.receive("job.cancel")
    assert cancel == {"t": "job.cancel", "job_id": job["id"]}
    msg_id = await session.result(job["id"], "cancelled", None, error="cancelled by the server")
    assert (await session.receive("ack"))["msg_id"] == msg_id  # acked once stored
    final = await job_of(api, job["id"])
    assert final["status"] == "cancelled" and final["counts"]["cancelled"] == 2 and final["cancelled_at"]

    # The one that was away connects later: nothing waits for it.
    late = await online(job_server, api, away)
    assert await late.nothing_of("job", 0.5)
    await late.close()
    await session.close()


async def test_rolling_batches_and_stop_on_failure(job_server: ServerProcess, api: httpx.AsyncClient) -> None:
    agents = [await enrolled_agent(api, {}, hostname=f"b-{i}") for i in range(3)]
    sessions = [await online(job_server, api, agent) for agent in agents]
    job = await submit(api, {"agents": [a.agent_id for a in agents]}, batch_size=1, stop_on_failure=True)
    assert job["batch_size"] == 1

    await sessions[0].receive("job")
    assert await sessions[1].nothing_of("job", 0.5)  # the next batch waits for this one
    await sessions[0].result(job["id"], "succeeded", 0)
    await sessions[1].receive("job")
    assert await sessions[2].nothing_of("job", 0.3)
    await sessions[1].result(job["id"], "failed", 1)
    want = {agents[0].agent_id: "succeeded", agents[1].agent_id: "failed", agents[2].agent_id: "cancelled"}
    await eventually(lambda: rows_are(api, job["id"], want), 3, "stopped on failure")
    assert await sessions[2].nothing_of("job", 0.5)
    final = await job_of(api, job["id"])
    assert final["status"] == "failed" and final["current_batch"] == 1
    for session in sessions:
        await session.close()


async def test_a_batch_percentage_splits_the_fleet(job_server: ServerProcess, api: httpx.AsyncClient) -> None:
    agents = [await enrolled_agent(api, {}, hostname=f"p-{i}") for i in range(4)]
    sessions = [await online(job_server, api, agent) for agent in agents]
    job = await submit(api, {"agents": [a.agent_id for a in agents]}, batch_percent=50)
    assert job["batch_size"] == 2
    for session in sessions[:2]:
        await session.receive("job")
    for session in sessions[2:]:
        assert await session.nothing_of("job", 0.3)
    for session in sessions[:2]:
        await session.result(job["id"], "succeeded", 0)
    for session in sessions[2:]:
        await session.receive("job")
        await session.result(job["id"], "succeeded", 0)
    await eventually(lambda: _job_status_is(api, job["id"], "succeeded"), 3, "succeeded")
    for session in sessions:
        await session.close()


async def _job_status_is(api: httpx.AsyncClient, job_id: str, status: str) -> bool:
    return (await job_of(api, job_id))["status"] == status


async def read_events(
    response: httpx.Response, events: list[tuple[str, dict[str, Any]]] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The stream's events up to its `end`, appended to `events` as they come (for `until_event`)."""
    events = [] if events is None else events
    name = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((name, orjson.loads(line[len("data: ") :])))
            if name == "end":
                break
    return events


async def until_event(events: list[tuple[str, dict[str, Any]]], name: str, timeout: float = 10) -> None:
    async def seen() -> bool:
        return any(event == name for event, _ in events)

    await eventually(seen, timeout, f"a {name!r} event")


async def test_the_event_stream_shows_state_changes_and_output_then_ends(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    session = await online(job_server, api, agent)
    job = await submit(api, {"agents": [agent.agent_id]})
    await session.receive("job")

    async def listen(
        events: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> list[tuple[str, dict[str, Any]]]:
        async with api.stream("GET", f"/api/v1/jobs/{job['id']}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            return await read_events(response, events)

    seen: list[tuple[str, dict[str, Any]]] = []
    listening = asyncio.create_task(listen(seen))
    await until_event(seen, "snapshot")
    await session.accept(job["id"])
    await session.output(job["id"], "line 1\n", seq=0)
    await session.output(job["id"], "warn\n", stream="stderr", seq=1)
    await session.result(job["id"], "succeeded", 0, stdout_tail="line 1\n")
    events = await asyncio.wait_for(listening, 10)

    names = [name for name, _ in events]
    assert names[0] == "snapshot" and names[-1] == "end"
    assert events[0][1]["results"] == [{"agent_id": agent.agent_id, "status": "sent"}]
    states = [data["status"] for name, data in events if name == "state"]
    assert states == ["running", "succeeded"]
    outputs = [(d["stream"], d["chunk"], d["seq"], d["agent_id"]) for n, d in events if n == "output"]
    assert outputs == [("stdout", "line 1\n", 0, agent.agent_id), ("stderr", "warn\n", 1, agent.agent_id)]
    assert events[-1][1]["status"] == "succeeded"
    # A finished job's stream is a snapshot and an end.
    again = await listen()
    assert [name for name, _ in again] == ["snapshot", "end"]
    assert (await api.get(f"/api/v1/jobs/{'0' * 32}/events")).status_code == 404
    await session.close()


async def test_output_is_accepted_only_from_the_agent_that_holds_the_job(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    """An agent's `job.output` for a job it was not sent never reaches that job's live stream."""
    holder = await enrolled_agent(api, {}, hostname="holder")
    intruder = await enrolled_agent(api, {}, hostname="intruder")
    holding = await online(job_server, api, holder)
    other = await online(job_server, api, intruder)
    job = await submit(api, {"agents": [holder.agent_id]})
    await holding.receive("job")

    seen: list[tuple[str, dict[str, Any]]] = []

    async def listen() -> list[tuple[str, dict[str, Any]]]:
        async with api.stream("GET", f"/api/v1/jobs/{job['id']}/events") as response:
            return await read_events(response, seen)

    listening = asyncio.create_task(listen())
    await until_event(seen, "snapshot")
    await holding.accept(job["id"])
    await other.output(job["id"], "forged by another agent\n", seq=0)
    await holding.output(job["id"], "real\n", seq=0)
    await until_event(seen, "output")
    await holding.result(job["id"], "succeeded", 0, stdout_tail="real\n")
    events = await asyncio.wait_for(listening, 10)
    outputs = [(d["chunk"], d["agent_id"]) for name, d in events if name == "output"]
    assert outputs == [("real\n", holder.agent_id)]
    await holding.close()
    await other.close()


async def test_a_listener_that_comes_late_first_gets_the_output_sent_before_it(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    session = await online(job_server, api, agent)
    job = await submit(api, {"agents": [agent.agent_id]})
    await session.receive("job")
    await session.accept(job["id"])
    await session.output(job["id"], "early\n", seq=0)
    await eventually(lambda: _job_status_is(api, job["id"], "running"), 3, "running")
    await asyncio.sleep(0.3)  # the chunk has crossed the bus

    seen: list[tuple[str, dict[str, Any]]] = []

    async def listen() -> list[tuple[str, dict[str, Any]]]:
        async with api.stream("GET", f"/api/v1/jobs/{job['id']}/events") as response:
            return await read_events(response, seen)

    listening = asyncio.create_task(listen())
    await until_event(seen, "snapshot")
    await session.output(job["id"], "late\n", seq=1)
    await session.result(job["id"], "failed", 3, stdout_tail="early\nlate\n")
    events = await asyncio.wait_for(listening, 10)
    names = [name for name, _ in events]
    assert names[0] == "snapshot" and names[1] == "output" and names[-1] == "end"
    chunks = [d["chunk"] for n, d in events if n == "output"]
    assert chunks == ["early\n", "late\n"]  # each once, in order
    await session.close()


async def test_fan_out_to_fifty_agents_with_one_dropping_mid_way(
    job_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    code = (await api.post("/api/v1/enrollments", json={"uses": 50})).json()
    from borealis.protocol import keys
    from borealis.protocol.install_code import InstallCode
    from tests.server.fleet import enroll

    secret = InstallCode.decode(code["install_code"]).secret
    agents: list[EnrolledAgent] = []
    for i in range(50):
        key = keys.generate()
        response = await enroll(api, secret, key, hostname=f"f-{i:02d}")
        body = response.json()
        agents.append(EnrolledAgent(body["agent_id"], key, body["server_public_key"]))
    sessions = [await open_session(job_server.url, agent) for agent in agents]
    for session in sessions:
        session.keep_beating()
    dropper = agents[25].agent_id
    acks: dict[str, int] = {}

    async def behave(agent: EnrolledAgent, session: Session) -> None:
        frame = await session.receive("job", 15)
        assert job_is_signed_by(frame, agent.server_public_key) and frame["agent_id"] == agent.agent_id
        if agent.agent_id == dropper:
            await session.stop_beating()
            session.ws.transport.abort()  # gone without a word, mid fan-out
            return
        await session.accept(frame["job_id"])
        await session.output(frame["job_id"], f"{agent.agent_id}\n")
        await session.result(frame["job_id"], "succeeded", 0, stdout_tail=f"{agent.agent_id}\n")
        await session.receive("ack")
        await session.receive("ack")
        acks[agent.agent_id] = 2

    job = await submit(api, {"all": True}, expires_in_s=3)
    assert job["agent_count"] == 50
    await asyncio.wait_for(asyncio.gather(*(behave(a, s) for a, s in zip(agents, sessions, strict=True))), 30)
    assert len(acks) == 49

    rows = (await job_of(api, job["id"]))["results"]
    assert len(rows) == 50 and len({row["agent_id"] for row in rows}) == 50
    for row in rows:
        if row["agent_id"] != dropper:
            assert row["status"] == "succeeded" and row["stdout"] == f"{row['agent_id']}\n"
    # The one that dropped holds its job (sent) until the job expires, then says so.
    await eventually(lambda: rows_are(api, job["id"], {dropper: "expired"}), 8, "expired")
    final = await job_of(api, job["id"])
    assert final["counts"]["succeeded"] == 49 and final["counts"]["expired"] == 1
    for session in sessions:
        if session.ws.close_code is None:
            await session.close()
