"""Many agents reporting at once against a real `borealis server`: every `job.accepted` and `job.result`
is stored exactly once and acked only once it is stored; a report whose transaction fails is not acked
(the fault is injected in the database itself: a trigger that refuses one row), the others still are,
and the agent's re-send is stored once the fault is gone. The live event stream carries every change."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest

from borealis.protocol import keys
from borealis.protocol.install_code import InstallCode
from tests.conftest import ServerProcess, running_server
from tests.server.fleet import EnrolledAgent, Session, enroll, job_is_signed_by, open_session
from tests.server.test_jobs import submit

pytestmark = pytest.mark.slow

AGENTS = 300
POISON = "poison"  # a stdout the injected fault refuses to store

SQLITE_FAULT = (
    "CREATE TRIGGER test_fault BEFORE UPDATE ON job_results WHEN NEW.stdout = 'poison' "
    "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
)
POSTGRES_FAULT = (
    "CREATE FUNCTION test_fault() RETURNS trigger AS $$ BEGIN "
    "IF NEW.stdout = 'poison' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$ "
    "LANGUAGE plpgsql; "
    "CREATE TRIGGER test_fault BEFORE UPDATE ON job_results FOR EACH ROW EXECUTE FUNCTION test_fault()"
)


class DatabaseFault:
    """A trigger in the server's own database that makes any write of a poisoned result fail."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server

    async def _sql(self, statements: str) -> None:
        if self.server.db_url:
            conn = await asyncpg.connect("postgresql://" + self.server.db_url.split("://", 1)[1])
            try:
                await conn.execute(statements)
            finally:
                await conn.close()
        else:
            with sqlite3.connect(self.server.home / "Server" / "borealis.db", timeout=10) as conn:
                conn.execute(statements)

    async def install(self) -> None:
        await self._sql(POSTGRES_FAULT if self.server.db_url else SQLITE_FAULT)

    async def remove(self) -> None:
        extra = "; DROP FUNCTION test_fault()" if self.server.db_url else ""
        await self._sql("DROP TRIGGER test_fault" + (" ON job_results" if self.server.db_url else "") + extra)


@pytest.fixture
def busy_server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path / "server-home", db_url, heartbeat_s=30.0
    ) as process:  # no heartbeats needed to stay online
        yield process


@pytest.fixture
async def api(busy_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {busy_server.token}"}
    async with httpx.AsyncClient(base_url=busy_server.url, headers=headers, timeout=30) as client:
        yield client


async def fleet_online(
    server: ServerProcess, api: httpx.AsyncClient, count: int
) -> list[tuple[EnrolledAgent, Session]]:
    code = (await api.post("/api/v1/enrollments", json={"uses": count})).json()
    secret = InstallCode.decode(code["install_code"]).secret
    agents: list[EnrolledAgent] = []
    for i in range(count):
        key = keys.generate()
        body = (await enroll(api, secret, key, hostname=f"r-{i:03d}")).json()
        agents.append(EnrolledAgent(body["agent_id"], key, body["server_public_key"], f"r-{i:03d}"))
    sessions: list[Session] = []
    for start in range(0, count, 50):
        sessions += await asyncio.gather(*(open_session(server.url, a) for a in agents[start : start + 50]))
    assert all(session.welcome is not None for session in sessions)
    return list(zip(agents, sessions, strict=True))


async def test_many_results_at_once_are_stored_once_and_acked_and_a_failed_commit_is_not_acked(
    busy_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    fleet = await fleet_online(busy_server, api, AGENTS)
    poisoned = fleet[AGENTS // 2][0].agent_id
    fault = DatabaseFault(busy_server)
    await fault.install()
    job = await submit(api, {"all": True})
    assert job["agent_count"] == AGENTS
    listening = Listening()
    stream = asyncio.create_task(listening.follow(api, job["id"]))
    await asyncio.wait_for(listening.snapshot.wait(), 10)

    async def report(agent: EnrolledAgent, session: Session) -> Counter[str]:
        """Accept, then the result sent twice (at least once); returns the msg_ids acked."""
        frame = await session.receive("job", 20)
        assert frame["agent_id"] == agent.agent_id and frame["job_id"] == job["id"]
        assert job_is_signed_by(frame, agent.server_public_key)
        stdout = POISON if agent.agent_id == poisoned else f"out of {agent.agent_id}"
        await session.accept(job["id"], msg_id=f"a-{agent.agent_id}")
        for _ in range(2):
            await session.result(job["id"], "succeeded", 0, stdout_tail=stdout, msg_id=f"r-{agent.agent_id}")
        expected = 1 if agent.agent_id == poisoned else 3
        return Counter([str((await session.receive("ack", 20))["msg_id"]) for _ in range(expected)])

    acks = await asyncio.gather(*(report(agent, session) for agent, session in fleet))
    for (agent, _), acked in zip(fleet, acks, strict=True):
        if agent.agent_id == poisoned:
            assert acked == {f"a-{poisoned}": 1}  # the accept went through, the result did not
        else:
            assert acked == {f"a-{agent.agent_id}": 1, f"r-{agent.agent_id}": 2}
    # The poisoned result was refused by the database: not acked, and its row is still `running`.
    session_of = {agent.agent_id: session for agent, session in fleet}
    assert await session_of[poisoned].nothing_of("ack", 1.0)
    rows = {row["agent_id"]: row for row in (await api.get(f"/api/v1/jobs/{job['id']}")).json()["results"]}
    assert rows[poisoned]["status"] == "running"
    for agent_id, row in rows.items():
        if agent_id != poisoned:
            assert row["status"] == "succeeded" and row["stdout"] == f"out of {agent_id}"
    assert "job report not stored, not acked" in busy_server.log_path.read_text(errors="replace")

    # The fault is gone; the agent re-sends from its outbox and the result is stored, once.
    await fault.remove()
    await session_of[poisoned].result(job["id"], "succeeded", 0, stdout_tail="fixed", msg_id=f"r-{poisoned}")
    assert (await session_of[poisoned].receive("ack", 10))["msg_id"] == f"r-{poisoned}"
    await asyncio.wait_for(stream, 30)
    final = (await api.get(f"/api/v1/jobs/{job['id']}")).json()
    assert final["status"] == "succeeded"
    assert final["counts"]["succeeded"] == AGENTS and sum(final["counts"].values()) == AGENTS
    assert [row["stdout"] for row in final["results"] if row["agent_id"] == poisoned] == ["fixed"]

    # Every change reached the live stream exactly once per agent: `running`, then `succeeded`; and
    # `sent` once when the snapshot had the row queued (a snapshot read just after the claim's commit
    # may show `sent` and still be followed by its event: the stream repeats, it never loses).
    assert listening.names[0] == "snapshot" and listening.names[-1] == "end"
    assert "dropped" not in listening.names
    assert len(listening.first) == AGENTS and set(listening.states) == set(listening.first)
    for agent_id, states in listening.states.items():
        sent = states.count("sent")
        assert sent == 1 if listening.first[agent_id] == "queued" else sent <= 1, (agent_id, states)
        assert [state for state in states if state != "sent"] == ["running", "succeeded"], (agent_id, states)
    for _, session in fleet:
        await session.close()


class Listening:
    """A job's event stream, followed: each agent's state changes in the order they came."""

    def __init__(self) -> None:
        self.snapshot = asyncio.Event()
        self.names: list[str] = []
        self.first: dict[str, str] = {}  # each agent's state in the snapshot
        self.states: dict[str, list[str]] = {}

    async def follow(self, api: httpx.AsyncClient, job_id: str) -> None:
        async with api.stream("GET", f"/api/v1/jobs/{job_id}/events", timeout=60) as response:
            assert response.status_code == 200
            name = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: "):
                    self.names.append(name)
                    data = orjson.loads(line[len("data: ") :])
                    if name == "snapshot":
                        self.first = {row["agent_id"]: row["status"] for row in data["results"]}
                        assert set(self.first.values()) <= {"queued", "sent"}
                        self.snapshot.set()
                    elif name == "state":
                        for agent_id in data["agent_ids"]:
                            self.states.setdefault(agent_id, []).append(data["status"])
                    elif name == "end":
                        return
