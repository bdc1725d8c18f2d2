"""A job's target resolved once to agents: `{agents: [ids]}`, `{tags: [...]}` (agents having every
tag) or `{all: true}`. Only active agents count; pending and revoked ones are left out."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.errors import InvalidInput
from borealis.server.db.models import Agent
from borealis.server.tags import clean_tags

CHUNK = 500


@dataclass
class Resolved:
    agent_ids: list[str]
    skipped: list[str] = field(default_factory=list)  # named agents that are pending or revoked


async def resolve_target(
    session: AsyncSession, agents: list[str] | None, tags: list[str] | None, everyone: bool
) -> Resolved:
    chosen = [name for name, given in (("agents", agents), ("tags", tags), ("all", everyone)) if given]
    if len(chosen) != 1:
        raise InvalidInput(
            "target must be exactly one of {agents: [...]}, {tags: [...]}, {all: true}", field="target"
        )
    if agents:
        return await _named(session, list(dict.fromkeys(agents)))
    wanted = set(clean_tags(tags or []))
    rows = await session.execute(
        select(Agent.id, Agent.tags).where(Agent.state == "active").order_by(Agent.id)
    )
    ids = [agent_id for agent_id, agent_tags in rows if wanted <= set(agent_tags)]
    if not ids:
        raise InvalidInput("the target matches no active agent", field="target")
    return Resolved(ids)


async def _named(session: AsyncSession, ids: list[str]) -> Resolved:
    states: dict[str, str] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = await session.execute(select(Agent.id, Agent.state).where(Agent.id.in_(chunk)))
        states.update({agent_id: state for agent_id, state in rows})
    unknown = [agent_id for agent_id in ids if agent_id not in states]
    if unknown:
        raise InvalidInput(f"unknown agents: {', '.join(unknown[:10])}", field="target.agents")
    active = [agent_id for agent_id in ids if states[agent_id] == "active"]
    if not active:
        raise InvalidInput("the target matches no active agent", field="target")
    return Resolved(active, [agent_id for agent_id in ids if states[agent_id] != "active"])
