"""The gateway's in-memory trust cache: active agents only, forgotten when the bus says agent.close."""

from __future__ import annotations

from borealis.protocol import keys
from borealis.server.state import app_state
from tests.conftest import App
from tests.server.fleet import enrolled_agent


async def test_active_agents_are_cached_and_revocation_evicts_them(app: App) -> None:
    state = app_state(app.app)
    agent = await enrolled_agent(app.client, app.auth())
    trust = await state.agent_keys.lookup(agent.agent_id)
    assert trust is not None and trust.state == "active"
    assert trust.public_key == keys.public_raw(agent.key)
    assert agent.agent_id in state.agent_keys.active

    response = await app.client.post(f"/api/v1/agents/{agent.agent_id}/revoke", headers=app.auth())
    assert response.status_code == 200
    assert agent.agent_id not in state.agent_keys.active
    revoked = await state.agent_keys.lookup(agent.agent_id)
    assert revoked is not None and revoked.state == "revoked"
    assert agent.agent_id not in state.agent_keys.active  # revoked agents are never cached


async def test_pending_agents_are_read_fresh_so_approval_takes_effect(app: App) -> None:
    state = app_state(app.app)
    agent = await enrolled_agent(app.client, app.auth(), approval_required=True)
    pending = await state.agent_keys.lookup(agent.agent_id)
    assert pending is not None and pending.state == "pending"
    assert (
        await app.client.post(f"/api/v1/agents/{agent.agent_id}/approve", headers=app.auth())
    ).status_code == 200
    approved = await state.agent_keys.lookup(agent.agent_id)
    assert approved is not None and approved.state == "active"


async def test_unknown_agents_are_none_and_the_cache_loads_at_start(app: App) -> None:
    state = app_state(app.app)
    assert await state.agent_keys.lookup("0" * 32) is None
    agent = await enrolled_agent(app.client, app.auth())
    state.agent_keys.active.clear()
    await state.agent_keys.load()
    assert agent.agent_id in state.agent_keys.active
