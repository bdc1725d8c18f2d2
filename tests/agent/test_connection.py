"""One session against a fake gateway on loopback: handshake, heartbeats, refusals, clean stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from borealis.agent.credentials import pinned_server_key
from borealis.agent.link.connection import Connection, websocket_url
from borealis.agent.link.heartbeat import HeartbeatSource
from borealis.agent.resources import ProcessMeter
from borealis.agent.service.status_file import ConnectionState, StatusPublisher, WorkerStatus, status_path
from borealis.protocol import PROTOCOL_VERSION, keys
from tests.agent.fakes import FakeGateway, enrolled_home


def make_connection(tmp_path: Path, gateway: FakeGateway) -> tuple[Connection, StatusPublisher]:
    home, identity, key = enrolled_home(tmp_path / "agent", gateway.url, gateway.key)
    gateway.agent_keys[identity.agent_id] = key
    status = StatusPublisher(
        status_path(home), WorkerStatus(pid=1, agent_id=identity.agent_id, server_url=identity.server_url)
    )
    connection = Connection(
        identity,
        key,
        pinned_server_key(home, identity),
        {"os": "linux"},
        HeartbeatSource(ProcessMeter()),
        status,
    )
    return connection, status


def test_websocket_url_follows_the_scheme_and_keeps_a_path_prefix() -> None:
    assert websocket_url("http://h:5000") == "ws://h:5000/api/v1/agent/ws"
    assert websocket_url("https://h/rmm/") == "wss://h/rmm/api/v1/agent/ws"


async def test_handshake_then_heartbeats_then_clean_stop(tmp_path: Path) -> None:
    async with FakeGateway(heartbeat_s=0.2) as gateway:
        connection, status = make_connection(tmp_path, gateway)
        stop = asyncio.Event()
        session = asyncio.create_task(connection.run(stop))
        await gateway.wait_for(lambda: len(gateway.heartbeats()) >= 3)
        assert status.current.state is ConnectionState.CONNECTED
        assert status.current.connected_since
        stop.set()
        outcome = await asyncio.wait_for(session, 5)
        await gateway.wait_for(lambda: gateway.sessions[0].close_code is not None)

    hello = gateway.sessions[0].hello
    assert (
        hello["t"] == "hello" and hello["protocol"] == PROTOCOL_VERSION and hello["facts"] == {"os": "linux"}
    )
    beats = gateway.heartbeats()
    assert [b["seq"] for b in beats] == list(range(1, len(beats) + 1))
    assert set(beats[0]) == {"t", "seq", "uptime_s", "rss_bytes", "cpu_pct", "roles_health", "sessions"}
    assert beats[0]["rss_bytes"] > 1_000_000 and beats[0]["roles_health"] == {} and beats[0]["sessions"] == []
    assert (gateway.sessions[0].close_code, gateway.sessions[0].close_reason) == (1000, "agent stopping")
    assert outcome.welcomed and outcome.close_code == 1000


async def test_challenge_signed_by_another_key_is_refused_before_hello(tmp_path: Path) -> None:
    async with FakeGateway(sign_with=keys.generate()) as gateway:
        connection, status = make_connection(tmp_path, gateway)
        outcome = await asyncio.wait_for(connection.run(asyncio.Event()), 5)
        await gateway.wait_for(lambda: gateway.sessions[0].close_code is not None)

    assert outcome.key_mismatch and not outcome.welcomed
    assert outcome.why == "server key mismatch"
    assert gateway.sessions[0].hello == {}, "the agent must not say hello to a server it cannot trust"
    assert gateway.sessions[0].close_code == 1008
    assert status.current.state is not ConnectionState.CONNECTED


async def test_refusal_close_code_is_reported(tmp_path: Path) -> None:
    async with FakeGateway(refuse=(4403, "agent revoked")) as gateway:
        connection, _ = make_connection(tmp_path, gateway)
        outcome = await asyncio.wait_for(connection.run(asyncio.Event()), 5)

    assert (outcome.close_code, outcome.close_reason, outcome.welcomed) == (4403, "agent revoked", False)


async def test_unexpected_frames_are_ignored(tmp_path: Path) -> None:
    frames = ["not json", '{"t": "job", "job_id": "x"}', "[1, 2]", '{"t": "nonsense"}']
    async with FakeGateway(heartbeat_s=0.2, extra_frames=frames) as gateway:
        connection, _ = make_connection(tmp_path, gateway)
        stop = asyncio.Event()
        session = asyncio.create_task(connection.run(stop))
        await gateway.wait_for(lambda: len(gateway.heartbeats()) >= 3)
        stop.set()
        outcome = await asyncio.wait_for(session, 5)

    assert outcome.close_code == 1000


async def test_server_that_is_not_there_gives_an_error_outcome(tmp_path: Path) -> None:
    async with FakeGateway() as gateway:
        connection, _ = make_connection(tmp_path, gateway)
    outcome = await asyncio.wait_for(connection.run(asyncio.Event()), 15)
    assert outcome.close_code is None and not outcome.welcomed
    assert outcome.error and "cannot connect" in outcome.error
