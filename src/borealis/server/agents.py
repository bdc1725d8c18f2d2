"""The fleet as the API shows it: agent rows joined with presence, filtered and paginated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import iso, utcnow
from borealis.core.errors import Conflict, NotFound
from borealis.server.db.models import Agent
from borealis.server.presence import AgentStatus, Presence

SCAN_BATCH = 500


async def get_agent(session: AsyncSession, agent_id: str) -> Agent:
    agent = await session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"no agent {agent_id!r}")
    return agent


def agent_view(agent: Agent, presence: Presence) -> dict[str, Any]:
    status = presence.status(agent.id, agent.state, agent.last_seen, agent.enrolled_at)
    live = presence.live.get(agent.id)
    return {
        "id": agent.id,
        "hostname": agent.hostname,
        "status": status.value,
        "last_seen": iso(presence.seen_at(agent.id, agent.last_seen)),
        "connected_since": iso(live.connected_at) if live and status == AgentStatus.ONLINE else None,
        "os": agent.os,
        "os_version": agent.os_version,
        "arch": agent.arch,
        "tags": agent.tags,
        "version": agent.version,
        "notes": agent.notes,
        "enrolled_at": iso(agent.enrolled_at),
        "revoked_at": iso(agent.revoked_at),
        "agent_rss_bytes": live.rss_bytes if live else None,
        "agent_cpu_pct": live.cpu_pct if live else None,
    }


async def list_agents(
    session: AsyncSession,
    presence: Presence,
    limit: int,
    cursor: str | None = None,
    status: AgentStatus | None = None,
    tag: str | None = None,
    text: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Pages ordered by id (time-ordered); status and tag are matched in memory, text in SQL."""
    items: list[dict[str, Any]] = []
    after = cursor or ""
    while len(items) < limit:
        query = select(Agent).where(Agent.id > after).order_by(Agent.id).limit(SCAN_BATCH)
        if text:  # matched as text: '%' and '_' in it are not wildcards
            query = query.where(
                or_(
                    *(
                        column.icontains(text, autoescape=True)
                        for column in (Agent.hostname, Agent.id, Agent.notes)
                    )
                )
            )
        batch = list((await session.scalars(query)).all())
        for agent in batch:
            after = agent.id
            if tag and tag not in agent.tags:
                continue
            view = agent_view(agent, presence)
            if status and view["status"] != status.value:
                continue
            items.append(view)
            if len(items) == limit:
                return items, agent.id
        if len(batch) < SCAN_BATCH:
            return items, None
    return items, None


async def revoke(session: AsyncSession, agent_id: str) -> Agent:
    agent = await get_agent(session, agent_id)
    if agent.state == "revoked":
        raise Conflict(f"agent {agent_id} is already revoked")
    agent.state = "revoked"
    agent.revoked_at = utcnow()
    return agent


async def get_pending(session: AsyncSession, agent_id: str) -> Agent:
    """The agent, if it waits for an operator's approval; a 409 otherwise."""
    agent = await get_agent(session, agent_id)
    if agent.state != "pending":
        raise Conflict(f"agent {agent_id} is not waiting for approval (it is {agent.state})")
    return agent


async def approve(session: AsyncSession, agent_id: str) -> Agent:
    agent = await get_pending(session, agent_id)
    agent.state = "active"
    return agent
