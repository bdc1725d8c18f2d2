"""The background loops: the batched `last_seen` writer and the sweeper, on the in-process app."""

from __future__ import annotations

from sqlalchemy import delete

from borealis.server.db.models import Agent
from borealis.server.housekeeping import flush_last_seen, sweep_once
from borealis.server.state import ServerState, app_state
from tests.conftest import App
from tests.server.fleet import enrolled_agent


class Socket:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def __call__(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def state_of(app: App) -> ServerState:
    state = app_state(app.app)
    return state


async def stored_last_seen(state: ServerState, agent_id: str) -> object:
    async with state.db.session() as session:
        agent = await session.get(Agent, agent_id)
        assert agent is not None
        return agent.last_seen


async def test_last_seen_is_written_in_one_batch_and_only_when_it_changed(app: App) -> None:
    state = state_of(app)
    first = await enrolled_agent(app.client, app.auth(), hostname="a")
    second = await enrolled_agent(app.client, app.auth(), hostname="b")
    state.presence.connected(first.agent_id, Socket())
    state.presence.connected(second.agent_id, Socket())
    assert await flush_last_seen(state) == 2
    assert await stored_last_seen(state, first.agent_id) == state.presence.last_seen[first.agent_id]
    assert await flush_last_seen(state) == 0  # nothing changed since
    state.presence.heartbeat(second.agent_id, seq=1, rss_bytes=0, cpu_pct=0)
    assert await flush_last_seen(state) == 1


async def test_an_agent_deleted_before_the_flush_does_not_stop_the_others(app: App) -> None:
    """Another server process may delete an agent this one still holds as dirty; the batch goes on."""
    state = state_of(app)
    gone = await enrolled_agent(app.client, app.auth(), hostname="gone")
    kept = await enrolled_agent(app.client, app.auth(), hostname="kept")
    state.presence.connected(gone.agent_id, Socket())
    state.presence.connected(kept.agent_id, Socket())
    async with state.db.transaction() as session:
        await session.execute(delete(Agent).where(Agent.id == gone.agent_id))
    assert await flush_last_seen(state) == 2
    assert await stored_last_seen(state, kept.agent_id) is not None
    state.presence.heartbeat(kept.agent_id, seq=1, rss_bytes=0, cpu_pct=0)
    assert await flush_last_seen(state) == 1  # later rounds still work


async def test_the_sweeper_closes_sockets_past_their_window(app: App) -> None:
    state = state_of(app)
    agent = await enrolled_agent(app.client, app.auth())
    socket = Socket()
    state.presence.connected(agent.agent_id, socket)
    assert await sweep_once(state) == 0
    state.presence.live[agent.agent_id].last_beat -= state.presence.window_s  # as if the window passed
    assert await sweep_once(state) == 1
    assert socket.closed == (1001, "heartbeat overdue")
    view = (await app.client.get(f"/api/v1/agents/{agent.agent_id}", headers=app.auth())).json()
    assert view["status"] == "offline" and view["last_seen"] is not None
