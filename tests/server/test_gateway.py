"""The agent gateway against a real `borealis server` (heartbeat_s=1): handshake, refusals, presence.

A small in-test client speaks the protocol with the `websockets` library; what it checks is what an
operator sees through the API (status, last_seen) and what an agent sees (welcome or a close code).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from borealis.protocol import keys
from borealis.protocol.messages import hello_payload
from tests.conftest import ServerProcess, admin_token, make_settings
from tests.server.fleet import (
    EnrolledAgent,
    challenge_is_signed_by,
    enrolled_agent,
    open_session,
    proper_hello,
    ws_url,
)
from tests.support import eventually, free_port, run_sync

pytestmark = pytest.mark.slow

WINDOW_S = 2.5  # 2.5 × heartbeat_s of the test server


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as client:
        yield client
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "level=error" not in log, log[-3000:]


async def agent_view(api: httpx.AsyncClient, agent_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/agents/{agent_id}")
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def status_of(api: httpx.AsyncClient, agent_id: str) -> str:
    return str((await agent_view(api, agent_id))["status"])


async def test_a_correct_hello_is_welcomed_and_the_agent_is_online(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {}, hostname="web-01")
    session = await open_session(server.url, agent)
    assert session.challenge["t"] == "challenge" and session.challenge["protocol"] == 1
    assert abs(session.challenge["server_time"] - time.time()) < 5
    assert challenge_is_signed_by(session.challenge, agent.server_public_key)
    assert session.welcome == {"t": "welcome", "heartbeat_s": 1.0, "config": {}}

    session.keep_beating()
    try:
        await eventually(lambda: _is(api, agent.agent_id, "online"), 2, "online")
        view = await agent_view(api, agent.agent_id)
        assert view["connected_since"] and view["last_seen"]
        await eventually(lambda: _rss_reported(api, agent.agent_id), 2, "reporting its memory")
        online = await api.get("/api/v1/agents", params={"status": "online"})
        assert [a["id"] for a in online.json()["items"]] == [agent.agent_id]
        metrics = (await api.get("/metrics")).text
        assert "borealis_agents_connected 1" in metrics and "borealis_heartbeats_total" in metrics
        refused = await api.delete(f"/api/v1/agents/{agent.agent_id}")
        assert refused.status_code == 409 and "revoke it" in refused.json()["detail"]
        # Staying online takes heartbeats only: well past the window it is still online.
        await asyncio.sleep(WINDOW_S + 0.5)
        assert await status_of(api, agent.agent_id) == "online"
    finally:
        await session.close()


async def _is(api: httpx.AsyncClient, agent_id: str, status: str) -> bool:
    return await status_of(api, agent_id) == status


async def _rss_reported(api: httpx.AsyncClient, agent_id: str) -> bool:
    return (await agent_view(api, agent_id))["agent_rss_bytes"] == 50_000_000


async def test_forged_replayed_and_unknown_hellos_are_refused_with_4401(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    impostor = keys.generate()

    forged = await open_session(
        server.url,
        agent,
        lambda c: {
            **proper_hello(agent, c),
            "signature": keys.sign(impostor, hello_payload(c["nonce"], agent.agent_id)),
        },
    )
    assert forged.welcome is None and forged.close_code == 4401

    # A hello captured from an earlier, genuine connection, sent on a new one (a different nonce).
    genuine = await open_session(server.url, agent)
    assert genuine.welcome is not None
    captured = genuine.hello
    await genuine.close()
    replayed = await open_session(server.url, agent, lambda c: captured)
    assert replayed.welcome is None and replayed.close_code == 4401

    stranger = EnrolledAgent(agent_id="f" * 32, key=impostor, server_public_key=agent.server_public_key)
    unknown = await open_session(server.url, stranger)
    assert unknown.welcome is None and unknown.close_code == 4401
    assert unknown.close_reason == "unknown agent"

    assert await status_of(api, agent.agent_id) == "offline"
    metrics = (await api.get("/metrics")).text
    assert 'borealis_agent_refusals_total{code="4401"} 3' in metrics


async def test_malformed_hellos_are_refused_with_a_close_code_not_a_crash(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    too_old = await open_session(server.url, agent, lambda c: {**proper_hello(agent, c), "protocol": 0})
    assert too_old.welcome is None and too_old.close_code == 4426
    assert "too old" in too_old.close_reason

    for hello in (
        lambda c: {**proper_hello(agent, c), "t": "heartbeat"},
        lambda c: {**proper_hello(agent, c), "agent_id": 42},
        lambda c: {**proper_hello(agent, c), "signature": ""},
        lambda c: [1, 2, 3],
    ):
        session = await open_session(server.url, agent, hello)
        assert session.welcome is None and session.close_code == 4400, session.hello

    for agent_id in ("nul\x00agent", "x" * 64, "../../etc"):
        named = await open_session(
            server.url, agent, lambda c, a=agent_id: {**proper_hello(agent, c), "agent_id": a}
        )
        assert named.welcome is None and named.close_code in (4400, 4401), (agent_id, named.close_code)

    for frame in (b"\x00\x01binary", "not json"):
        async with connect(ws_url(server.url), open_timeout=5) as ws:
            await ws.recv()
            await ws.send(frame)
            with pytest.raises(Exception, match="4400"):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 4400


async def test_a_pending_agent_is_refused_until_approved(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {}, approval_required=True)
    waiting = await open_session(server.url, agent)
    assert waiting.welcome is None and waiting.close_code == 4423
    assert await status_of(api, agent.agent_id) == "pending"

    assert (await api.post(f"/api/v1/agents/{agent.agent_id}/approve")).status_code == 200
    approved = await open_session(server.url, agent)
    assert approved.welcome is not None
    await approved.close()


async def test_revoking_closes_the_live_socket_at_once_and_refuses_new_ones(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    session = await open_session(server.url, agent)
    session.keep_beating()
    await eventually(lambda: _is(api, agent.agent_id, "online"), 2, "online")

    started = time.monotonic()
    assert (await api.post(f"/api/v1/agents/{agent.agent_id}/revoke")).status_code == 200
    code, reason = await session.closed_by_server(timeout=2)
    assert (code, reason) == (4403, "agent revoked")
    assert time.monotonic() - started < 1.0
    assert await status_of(api, agent.agent_id) == "revoked"

    again = await open_session(server.url, agent)
    assert again.welcome is None and again.close_code == 4403


async def test_a_clean_close_is_offline_at_once(server: ServerProcess, api: httpx.AsyncClient) -> None:
    agent = await enrolled_agent(api, {})
    session = await open_session(server.url, agent)
    session.keep_beating()
    await eventually(lambda: _is(api, agent.agent_id, "online"), 2, "online")
    await session.close(1000)
    closed = time.monotonic()
    await eventually(lambda: _is(api, agent.agent_id, "offline"), 1, "offline")
    assert time.monotonic() - closed < 1.0  # not the 2.5 s window
    assert (await agent_view(api, agent.agent_id))["connected_since"] is None


async def test_a_silent_drop_stays_online_for_the_window_then_goes_offline(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    session = await open_session(server.url, agent)
    await session.heartbeat()
    await eventually(lambda: _is(api, agent.agent_id, "online"), 2, "online")
    dropped = time.monotonic()
    session.ws.transport.abort()  # the TCP connection vanishes: no close frame
    await asyncio.sleep(0.5)
    assert await status_of(api, agent.agent_id) == "online"  # could be a network blip
    await eventually(lambda: _is(api, agent.agent_id, "offline"), 4, "offline")
    assert WINDOW_S - 0.5 < time.monotonic() - dropped < WINDOW_S + 1.5


async def test_a_socket_without_heartbeats_goes_offline_after_the_window_and_is_closed(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    session = await open_session(server.url, agent)
    connected = time.monotonic()
    assert await status_of(api, agent.agent_id) == "online"
    closing = asyncio.create_task(session.closed_by_server(timeout=6))
    await eventually(lambda: _is(api, agent.agent_id, "offline"), 5, "offline")
    assert WINDOW_S - 0.3 < time.monotonic() - connected < WINDOW_S + 1.0
    assert await closing == (1001, "heartbeat overdue")


async def test_a_second_connection_replaces_the_first(server: ServerProcess, api: httpx.AsyncClient) -> None:
    agent = await enrolled_agent(api, {})
    first = await open_session(server.url, agent)
    first_closed = asyncio.create_task(first.closed_by_server())
    second = await open_session(server.url, agent)
    assert second.welcome is not None
    assert await first_closed == (4409, "replaced by a newer connection")
    second.keep_beating()
    try:
        await asyncio.sleep(0.5)
        assert await status_of(api, agent.agent_id) == "online"  # the old socket's close does not count
    finally:
        await second.close()


async def test_last_seen_is_written_in_batches_and_survives_a_restart(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    assert (await agent_view(api, agent.agent_id))["last_seen"] is None
    session = await open_session(server.url, agent)
    session.keep_beating(every_s=0.2)
    await asyncio.sleep(1.5)  # past last_seen_flush_s = 1
    seen_live = (await agent_view(api, agent.agent_id))["last_seen"]
    await session.stop_beating()
    server.kill()  # SIGKILL: no shutdown flush; only what the batches wrote survives
    await asyncio.to_thread(server.start)
    stored = (await agent_view(api, agent.agent_id))["last_seen"]
    assert stored is not None
    assert abs(_epoch(stored) - _epoch(seen_live)) < 2.0
    assert await status_of(api, agent.agent_id) == "offline"


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


async def test_heartbeats_that_are_not_json_objects_close_the_socket(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {})
    session = await open_session(server.url, agent)
    await session.ws.send(orjson.dumps([1, 2]).decode())
    assert (await session.closed_by_server())[0] == 1008


async def test_a_graceful_stop_closes_agent_sockets_and_writes_pending_last_seen(
    tmp_path: Path, db_url: str
) -> None:
    home = tmp_path / "home"
    settings = make_settings(home, db_url, last_seen_flush_s=3600.0)  # only the final flush can write it
    server = ServerProcess(home=home, port=free_port(), db_url=db_url, token=run_sync(admin_token(settings)))
    server.start()
    try:
        headers = {"Authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as api:
            agent = await enrolled_agent(api, {})
            session = await open_session(server.url, agent)
            session.keep_beating(every_s=0.2)
            await eventually(lambda: _rss_reported(api, agent.agent_id), 5, "a heartbeat")
            closing = asyncio.create_task(session.closed_by_server(timeout=15))
            stopped_at = time.time()
            await asyncio.to_thread(server.stop)
            code, _ = await closing
            assert code in (1001, 1012)  # going away / service restart: the agent comes back later
            await asyncio.to_thread(server.start)
            stored = (await agent_view(api, agent.agent_id))["last_seen"]
            assert stored is not None and abs(_epoch(stored) - stopped_at) < 1.5
    finally:
        server.kill()
