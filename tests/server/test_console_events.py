"""The operators' event stream `/api/v1/events`: agent up/down/changed and job events on a real server,
each reader seeing only what its scopes allow; a reader that falls behind is dropped with a final event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from borealis.server.auth.scopes import Scope
from borealis.server.bus.memory_impl import MemoryBus
from borealis.server.console_events import AGENT_SUBJECT, ConsoleEvents
from borealis.server.jobs.events import SUBJECT as JOB_SUBJECT
from borealis.server.presence import Presence
from tests.conftest import ServerProcess, admin_token
from tests.server.fleet import enrolled_agent, open_session
from tests.support import run_sync


class Reader:
    """An open SSE response, parsed into (event, data) pairs as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next_event(self, timeout: float = 5.0) -> tuple[str, dict[str, Any]]:
        event, data = "", ""
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and event:
                    return event, orjson.loads(data)
        raise AssertionError("stream ended")

    async def wait_for(self, event: str, match: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                kind, data = await self.next_event(timeout)
                if kind == event and all(data.get(k) == v for k, v in match.items()):
                    return data

    async def nothing(self, event: str, wait_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                while True:
                    kind, _ = await self.next_event(wait_s)
                    if kind == event:
                        return False
        return True


@contextlib.asynccontextmanager
async def reading(client: httpx.AsyncClient, token: str) -> AsyncIterator[Reader]:
    headers = {"Authorization": f"Bearer {token}"}
    async with client.stream("GET", "/api/v1/events", headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Reader(response)


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as client:
        yield client


async def test_agent_up_changed_and_down_reach_an_admin_stream(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {}, hostname="ev-01")
    async with reading(api, server.token) as stream:
        kind, hello = await stream.next_event()
        assert kind == "hello" and hello["kinds"] == ["agent", "job", "run"]
        session = await open_session(server.url, agent)
        session.keep_beating()
        try:
            up = await stream.wait_for("agent", {"agent_id": agent.agent_id, "change": "up"})
            assert up["status"] == "online" and up["kind"] == "agent"
            changed = await api.patch(f"/api/v1/agents/{agent.agent_id}", json={"tags": ["blue"]})
            assert changed.status_code == 200
            updated = await stream.wait_for("agent", {"agent_id": agent.agent_id, "change": "updated"})
            assert updated["fields"] == ["tags"]
        finally:
            await session.close()
        down = await stream.wait_for("agent", {"agent_id": agent.agent_id, "change": "down"}, timeout=3)
        assert down["status"] == "offline"


async def test_job_events_reach_only_readers_with_jobs_read(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {}, hostname="ev-02")
    narrow = run_sync_token(server, ("agents:read",))
    session = await open_session(server.url, agent)
    session.keep_beating()
    try:
        async with reading(api, server.token) as admin, reading(api, narrow) as reader:
            assert (await reader.next_event())[1]["kinds"] == ["agent"]
            await admin.next_event()
            job = await api.post(
                "/api/v1/jobs",
                json={
                    "role": "script",
                    "params": {"language": "sh", "script": "true"},
                    "target": {"agents": [agent.agent_id]},
                },
            )
            assert job.status_code == 201, job.text
            job_id = job.json()["id"]
            seen = await admin.wait_for("job", {"job_id": job_id})
            assert seen["kind"] == "job" and seen["type"] == "state"
            assert await reader.nothing("job", 1.0)
    finally:
        await session.close()


def run_sync_token(server: ServerProcess, scopes: tuple[str, ...]) -> str:
    return run_sync(admin_token(server.settings, scopes, name="narrow"))


async def test_a_token_without_agents_read_is_refused(server: ServerProcess, api: httpx.AsyncClient) -> None:
    token = run_sync_token(server, ("jobs:read",))
    response = await api.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    anonymous = await httpx.AsyncClient(base_url=server.url).get("/api/v1/events")
    assert anonymous.status_code == 401


async def test_a_slow_reader_is_dropped_with_a_final_event() -> None:
    from borealis.server.api.events import _stream

    bus = MemoryBus()
    hub = ConsoleEvents(bus, Presence(1.0, 60.0), buffer=3)
    await hub.start()
    slow = hub.open(frozenset({Scope.ADMIN}))
    viewer = hub.open(frozenset({Scope.AGENTS_READ}))
    for n in range(5):
        await bus.publish(AGENT_SUBJECT, {"agent_id": f"a{n}", "change": "updated"})
    await bus.publish(JOB_SUBJECT, {"type": "state", "job_id": "j1", "agent_ids": [], "status": "queued"})
    await bus.publish(JOB_SUBJECT, {"type": "output", "job_id": "j1", "chunk": "x"})
    assert slow.overflowed and slow.queue.qsize() == 3
    assert viewer.overflowed  # five agent events into three places
    assert hub.dropped_clients == 2

    class Connected:
        async def is_disconnected(self) -> bool:
            return False

    async def still_admin() -> frozenset[Scope]:
        return frozenset({Scope.ADMIN})

    frames = [frame async for frame in _stream(hub, slow, Connected(), 0.1, still_admin)]  # type: ignore[arg-type]
    text = b"".join(frames).decode()
    assert text.count("event: agent") == 3 and text.rstrip().splitlines()[-2] == "event: dropped"
    assert slow not in hub.clients
    await hub.stop()


async def test_presence_changes_become_agent_events() -> None:
    bus = MemoryBus()
    presence = Presence(1.0, 60.0)
    hub = ConsoleEvents(bus, presence)
    await hub.start()
    reader = hub.open(frozenset({Scope.AGENTS_READ}))
    jobs_only = hub.open(frozenset({Scope.JOBS_READ}))

    async def close(code: int, reason: str) -> None:
        return None

    presence.connected("agent-1", close)
    presence.disconnected("agent-1", close, clean=True)
    events = [await asyncio.wait_for(reader.queue.get(), 2) for _ in range(2)]
    assert [(e["change"], e["status"]) for e in events] == [("up", "online"), ("down", "offline")]
    assert jobs_only.queue.empty()
    await hub.stop()
    assert hub._on_presence not in presence.listeners


async def test_a_stream_ends_when_its_session_ends_and_follows_a_changed_role() -> None:
    from borealis.core.errors import NotAuthenticated
    from borealis.server.api.events import _stream

    bus = MemoryBus()
    hub = ConsoleEvents(bus, Presence(1.0, 60.0))
    await hub.start()
    client = hub.open(frozenset({Scope.ADMIN}))
    checks: list[frozenset[Scope]] = [frozenset({Scope.AGENTS_READ})]

    class Connected:
        async def is_disconnected(self) -> bool:
            return False

    async def recheck() -> frozenset[Scope]:
        if not checks:
            raise NotAuthenticated("session expired or closed")
        return checks.pop()

    stream = _stream(hub, client, Connected(), 0.05, recheck)  # type: ignore[arg-type]
    assert b"retry" in await anext(stream)
    assert b"event: hello" in await anext(stream)
    assert await anext(stream) == b": keep-alive\n\n"  # first recheck: the role is now a viewer's
    assert client.scopes == frozenset({Scope.AGENTS_READ})
    await bus.publish(JOB_SUBJECT, {"type": "state", "job_id": "j1", "agent_ids": [], "status": "queued"})
    assert client.queue.empty()  # job events are no longer for this reader
    ended = await anext(stream)
    assert ended.startswith(b"event: ended") and b"session expired" in ended
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    assert client not in hub.clients
    await hub.stop()
