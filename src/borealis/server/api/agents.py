"""The fleet: list (filter by status, tag, text), one agent, change, delete, revoke, approve, deny."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from borealis.core.errors import Conflict
from borealis.protocol.messages import CloseCode
from borealis.server import audit
from borealis.server.agents import agent_view, approve, get_agent, get_pending, list_agents, revoke
from borealis.server.api.common import AgentsRead, AgentsWrite, Limit, client_ip
from borealis.server.api.schemas.fleet import AgentDetail, AgentPage, AgentView
from borealis.server.presence import AgentStatus
from borealis.server.state import ServerState, state_of
from borealis.server.tags import clean_tags

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


class AgentChange(BaseModel):
    hostname: str | None = Field(default=None, min_length=1, max_length=255)
    tags: list[str] | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=4096)


async def close_everywhere(state: ServerState, agent_id: str, code: CloseCode, reason: str) -> None:
    """Close the agent's socket on whichever server process holds it, and forget its presence."""
    await state.bus.publish("agent.close", {"agent_id": agent_id, "code": int(code), "reason": reason})


@router.get("", response_model=AgentPage)
async def fleet(
    request: Request,
    who: AgentsRead,
    limit: Limit = 100,
    cursor: str | None = Query(default=None, max_length=64),
    status: AgentStatus | None = None,
    tag: str | None = Query(default=None, max_length=64),
    q: str | None = Query(default=None, max_length=128, description="text in hostname, id or notes"),
) -> dict[str, Any]:
    state = state_of(request)
    async with state.db.session() as session:
        items, next_cursor = await list_agents(
            session, state.presence, limit, cursor, status, tag.lower() if tag else None, q
        )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{agent_id}", response_model=AgentDetail)
async def one_agent(agent_id: str, request: Request, who: AgentsRead) -> dict[str, Any]:
    state = state_of(request)
    async with state.db.session() as session:
        agent = await get_agent(session, agent_id)
    return {**agent_view(agent, state.presence), "facts": agent.facts}


@router.patch("/{agent_id}", response_model=AgentView)
async def change_agent(
    agent_id: str, body: AgentChange, request: Request, who: AgentsWrite
) -> dict[str, Any]:
    state = state_of(request)
    async with state.db.transaction() as session:
        agent = await get_agent(session, agent_id)
        changed = body.model_dump(exclude_none=True)
        if body.hostname is not None:
            agent.hostname = body.hostname
        if body.tags is not None:
            agent.tags = clean_tags(body.tags)
        if body.notes is not None:
            agent.notes = body.notes
        audit.record(session, who.actor, "agent.update", agent.id, client_ip(request), fields=sorted(changed))
    await state.console_events.agent_changed(agent.id, "updated", fields=sorted(changed))
    return agent_view(agent, state.presence)


@router.delete("/{agent_id}", status_code=204)
async def delete_agent(agent_id: str, request: Request, who: AgentsWrite) -> None:
    """Forget an agent. A live one must be revoked first, so a deletion never races a connection."""
    state = state_of(request)
    async with state.db.transaction() as session:
        agent = await get_agent(session, agent_id)
        if agent.state == "active" and state.presence.is_online(agent.id):
            raise Conflict("agent is online; revoke it before deleting it")
        await session.delete(agent)
        audit.record(
            session, who.actor, "agent.delete", agent.id, client_ip(request), hostname=agent.hostname
        )
    await close_everywhere(state, agent_id, CloseCode.UNKNOWN_AGENT, "agent deleted")
    await state.console_events.agent_changed(agent_id, "deleted")


@router.post("/{agent_id}/revoke", response_model=AgentView)
async def revoke_agent(agent_id: str, request: Request, who: AgentsWrite) -> dict[str, Any]:
    state = state_of(request)
    async with state.db.transaction() as session:
        agent = await revoke(session, agent_id)
        audit.record(
            session, who.actor, "agent.revoke", agent.id, client_ip(request), hostname=agent.hostname
        )
    await close_everywhere(state, agent_id, CloseCode.REVOKED, "agent revoked")
    await state.console_events.agent_changed(agent_id, "revoked", status="revoked")
    return agent_view(agent, state.presence)


@router.post("/{agent_id}/approve", response_model=AgentView)
async def approve_agent(agent_id: str, request: Request, who: AgentsWrite) -> dict[str, Any]:
    state = state_of(request)
    async with state.db.transaction() as session:
        agent = await approve(session, agent_id)
        audit.record(
            session, who.actor, "agent.approve", agent.id, client_ip(request), hostname=agent.hostname
        )
    await state.console_events.agent_changed(agent_id, "approved")
    return agent_view(agent, state.presence)


@router.post("/{agent_id}/deny", status_code=204)
async def deny_agent(agent_id: str, request: Request, who: AgentsWrite) -> None:
    state = state_of(request)
    async with state.db.transaction() as session:
        agent = await get_pending(session, agent_id)
        await session.delete(agent)
        audit.record(session, who.actor, "agent.deny", agent.id, client_ip(request), hostname=agent.hostname)
    await close_everywhere(state, agent_id, CloseCode.UNKNOWN_AGENT, "enrollment denied")
    await state.console_events.agent_changed(agent_id, "denied")
