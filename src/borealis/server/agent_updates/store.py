"""Queries and guarded row updates of agent versions, rollouts and each agent's progress.

A row changes state only through `move`, a conditional update that names the states it may leave,
so two server processes (or a late report racing a timeout) never both win.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.errors import NotFound
from borealis.protocol.agent_updates import FINAL_STATES, IN_FLIGHT_STATES, UpdateState
from borealis.server.db.models import Agent, AgentRollout, AgentUpdate, AgentVersion

IN_FLIGHT = tuple(s.value for s in IN_FLIGHT_STATES)
RETRYABLE = (
    UpdateState.FAILED.value,
    UpdateState.ROLLED_BACK.value,
    UpdateState.TIMED_OUT.value,
    UpdateState.CANCELLED.value,
)
UNFINISHED = (UpdateState.PENDING.value, *IN_FLIGHT)
PROGRESS = {
    UpdateState.OFFERED: 1,
    UpdateState.DOWNLOADING: 2,
    UpdateState.INSTALLED: 3,
    UpdateState.SWITCHING: 4,
}


async def get_version(session: AsyncSession, version: str) -> AgentVersion:
    row = await session.get(AgentVersion, version)
    if row is None:
        raise NotFound(f"no agent version {version!r}")
    return row


async def get_rollout(session: AsyncSession, version: str) -> AgentRollout:
    row = await session.get(AgentRollout, version)
    if row is None:
        raise NotFound(f"agent version {version!r} has no rollout")
    return row


async def add_agents(
    session: AsyncSession, version: str, agent_ids: Iterable[str], now: datetime
) -> tuple[int, int]:
    """New agents join as `pending`; agents whose earlier attempt failed, rolled back, timed out or
    was cancelled are retried. Returns (added, retried)."""
    wanted = list(dict.fromkeys(agent_ids))
    existing = {
        row.agent_id: row
        for row in (
            await session.scalars(
                select(AgentUpdate).where(AgentUpdate.version == version, AgentUpdate.agent_id.in_(wanted))
            )
        ).all()
    }
    added = retried = 0
    for agent_id in wanted:
        row = existing.get(agent_id)
        if row is None:
            session.add(
                AgentUpdate(
                    version=version,
                    agent_id=agent_id,
                    state=UpdateState.PENDING.value,
                    reason=None,
                    from_version="",
                    offered_at=None,
                    updated_at=now,
                )
            )
            added += 1
        elif row.state in RETRYABLE:
            row.state, row.reason, row.updated_at = UpdateState.PENDING.value, None, now
            retried += 1
    return added, retried


async def unfinished_rollouts(session: AsyncSession) -> list[AgentRollout]:
    versions = select(AgentUpdate.version).where(AgentUpdate.state.in_(UNFINISHED)).distinct()
    query = select(AgentRollout).where(AgentRollout.version.in_(versions)).order_by(AgentRollout.created_at)
    return list((await session.scalars(query)).all())


async def count_in_flight(session: AsyncSession, version: str) -> int:
    query = select(func.count()).where(AgentUpdate.version == version, AgentUpdate.state.in_(IN_FLIGHT))
    return int((await session.execute(query)).scalar_one())


async def pending_agents(session: AsyncSession, version: str) -> list[tuple[str, str]]:
    """(agent id, the version it last reported) of every pending row, oldest agents first."""
    query = (
        select(AgentUpdate.agent_id, Agent.version)
        .join(Agent, Agent.id == AgentUpdate.agent_id)
        .where(AgentUpdate.version == version, AgentUpdate.state == UpdateState.PENDING.value)
        .order_by(AgentUpdate.agent_id)
    )
    return [(agent_id, running) for agent_id, running in await session.execute(query)]


async def watched_agents(session: AsyncSession) -> set[str]:
    """Agents with a pending or in-flight row: a connect of theirs may move a rollout on."""
    query = select(AgentUpdate.agent_id).where(AgentUpdate.state.in_(UNFINISHED)).distinct()
    return set((await session.scalars(query)).all())


async def arrived(session: AsyncSession) -> list[tuple[str, str]]:
    """(version, agent id) of rows in flight whose agent already reported that version in a hello:
    their connect was missed (another server process, or a reconnect faster than a round)."""
    query = (
        select(AgentUpdate.version, AgentUpdate.agent_id)
        .join(Agent, Agent.id == AgentUpdate.agent_id)
        .where(AgentUpdate.state.in_(IN_FLIGHT), Agent.version == AgentUpdate.version)
    )
    return [(version, agent_id) for version, agent_id in await session.execute(query)]


async def in_flight_for(session: AsyncSession, agent_id: str) -> list[AgentUpdate]:
    query = select(AgentUpdate).where(AgentUpdate.agent_id == agent_id, AgentUpdate.state.in_(IN_FLIGHT))
    return list((await session.scalars(query)).all())


async def move(
    session: AsyncSession,
    version: str,
    agent_id: str,
    to: UpdateState,
    leaving: Iterable[str],
    now: datetime,
    reason: str | None = None,
    **values: Any,
) -> bool:
    """Set the row's state to `to` if it is in one of the `leaving` states; True when it was."""
    result = await session.execute(
        update(AgentUpdate)
        .where(
            AgentUpdate.version == version,
            AgentUpdate.agent_id == agent_id,
            AgentUpdate.state.in_(list(leaving)),
        )
        .values(state=to.value, reason=reason, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def leaving_for(report: UpdateState) -> list[str]:
    """The states an agent's report may move a row out of: progress only forwards; `failed` and
    `connected` end a row in flight (or one the server timed out); `rolled_back` is the agent's last
    word and ends any row."""
    if report is UpdateState.ROLLED_BACK:
        return [s.value for s in UpdateState if s is not UpdateState.ROLLED_BACK]
    if report in (UpdateState.FAILED, UpdateState.CONNECTED):
        return [*IN_FLIGHT, UpdateState.TIMED_OUT.value]
    rank = PROGRESS.get(report, 0)
    return [s.value for s, r in PROGRESS.items() if r < rank]


async def cancel_pending(session: AsyncSession, version: str, now: datetime, reason: str) -> int:
    """Every pending row of the rollout becomes `cancelled`; returns how many."""
    result = await session.execute(
        update(AgentUpdate)
        .where(AgentUpdate.version == version, AgentUpdate.state == UpdateState.PENDING.value)
        .values(state=UpdateState.CANCELLED.value, reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


async def stale(session: AsyncSession, before: datetime) -> list[tuple[str, str]]:
    """(version, agent id) of the rows in flight whose last change is older than `before`."""
    query = select(AgentUpdate.version, AgentUpdate.agent_id).where(
        AgentUpdate.state.in_(IN_FLIGHT), AgentUpdate.updated_at < before
    )
    return [(version, agent_id) for version, agent_id in await session.execute(query)]


async def rollout_rows(
    session: AsyncSession, version: str, limit: int, after: str | None, state: str | None
) -> list[tuple[AgentUpdate, str]]:
    query = (
        select(AgentUpdate, Agent.hostname)
        .join(Agent, Agent.id == AgentUpdate.agent_id)
        .where(AgentUpdate.version == version)
        .order_by(AgentUpdate.agent_id)
        .limit(limit)
    )
    if after:
        query = query.where(AgentUpdate.agent_id > after)
    if state:
        query = query.where(AgentUpdate.state == state)
    return [(row, hostname) for row, hostname in (await session.execute(query)).all()]


async def counts(session: AsyncSession, version: str) -> dict[str, int]:
    query = (
        select(AgentUpdate.state, func.count())
        .where(AgentUpdate.version == version)
        .group_by(AgentUpdate.state)
    )
    found: Counter[str] = Counter({state: int(n) for state, n in await session.execute(query)})
    return {s.value: found.get(s.value, 0) for s in UpdateState}


def is_final(state: str) -> bool:
    return state in {s.value for s in FINAL_STATES}
