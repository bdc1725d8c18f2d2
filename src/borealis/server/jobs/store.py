"""Job rows and their guarded state changes. Every change names the states it may leave, so a row
that is final never changes again, and the same (job, agent) is always one row (a unique constraint).
What agents report (accepted, result) is applied in batches by `reports`, under the same rules.

    queued → sent → running → succeeded | failed | timed_out | cancelled | expired | interrupted
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.errors import NotFound
from borealis.protocol.jobs import FINAL_STATES, JobState
from borealis.server.db.models import Job, JobResult

CHUNK = 500
UNFINISHED = (JobState.QUEUED.value, JobState.SENT.value, JobState.RUNNING.value)
UNSTARTED = (JobState.QUEUED.value, JobState.SENT.value)
FAILURES = frozenset({JobState.FAILED.value, JobState.TIMED_OUT.value, JobState.INTERRUPTED.value})


@dataclass(frozen=True)
class Finish:
    """What an agent reported about one row (already validated)."""

    status: JobState
    exit_code: int | None
    started_at: datetime | None
    finished_at: datetime | None
    stdout: str
    stderr: str
    flags: list[str]
    data: dict[str, Any] | None
    error: str | None


async def get_job(session: AsyncSession, job_id: str) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    return job


async def add_rows(session: AsyncSession, job_id: str, agent_ids: list[str], batch_size: int) -> None:
    rows = [
        {
            "job_id": job_id,
            "agent_id": agent_id,
            "batch": index // batch_size if batch_size else 0,
            "status": JobState.QUEUED.value,
            "stdout": "",
            "stderr": "",
            "flags": [],
        }
        for index, agent_id in enumerate(agent_ids)
    ]
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(JobResult), rows[start : start + CHUNK])


async def queued_in_batch(session: AsyncSession, job_id: str, batch: int) -> list[str]:
    rows = await session.scalars(
        select(JobResult.agent_id).where(
            JobResult.job_id == job_id, JobResult.batch == batch, JobResult.status == JobState.QUEUED.value
        )
    )
    return list(rows)


async def claim(session: AsyncSession, job_id: str, agent_ids: list[str], now: datetime) -> list[str]:
    """Queued rows of these agents become `sent`; returns the agents claimed here (and only here, so
    two dispatchers racing on one job never send one agent the same job twice)."""
    claimed: list[str] = []
    for start in range(0, len(agent_ids), CHUNK):
        rows = await session.scalars(
            update(JobResult)
            .where(
                JobResult.job_id == job_id,
                JobResult.agent_id.in_(agent_ids[start : start + CHUNK]),
                JobResult.status == JobState.QUEUED.value,
            )
            .values(status=JobState.SENT.value, sent_at=now)
            .returning(JobResult.agent_id)
        )
        claimed += list(rows)
    return claimed


async def unsend(session: AsyncSession, job_id: str, agent_ids: list[str]) -> None:
    """The frame did not leave: back to `queued`, to go out when the agent connects."""
    for start in range(0, len(agent_ids), CHUNK):
        await session.execute(
            update(JobResult)
            .where(
                JobResult.job_id == job_id,
                JobResult.agent_id.in_(agent_ids[start : start + CHUNK]),
                JobResult.status == JobState.SENT.value,
            )
            .values(status=JobState.QUEUED.value, sent_at=None)
        )


async def pending_for(
    session: AsyncSession, agent_id: str, now: datetime, connected_at: datetime
) -> tuple[list[Job], list[Job]]:
    """Jobs this agent should have (the job live, its batch reached): (queued ones, ones sent to an
    earlier connection, to send again)."""
    query = (
        select(Job, JobResult.status)
        .join(JobResult, JobResult.job_id == Job.id)
        .where(
            JobResult.agent_id == agent_id,
            or_(
                JobResult.status == JobState.QUEUED.value,
                and_(JobResult.status == JobState.SENT.value, JobResult.sent_at < connected_at),
            ),
            JobResult.batch <= Job.current_batch,
            Job.expires_at > now,
            Job.cancelled_at.is_(None),
        )
        .order_by(Job.id)
    )
    queued: list[Job] = []
    resend: list[Job] = []
    for job, status in (await session.execute(query)).all():
        (queued if status == JobState.QUEUED.value else resend).append(job)
    return queued, resend


async def end_rows(
    session: AsyncSession, job_id: str, states: tuple[str, ...], status: JobState, now: datetime, error: str
) -> list[str]:
    """Rows of a job in `states` become `status` (cancel, stop on failure); returns their agents."""
    agents = list(
        await session.scalars(
            select(JobResult.agent_id).where(JobResult.job_id == job_id, JobResult.status.in_(states))
        )
    )
    if agents:
        await session.execute(
            update(JobResult)
            .where(JobResult.job_id == job_id, JobResult.status.in_(states))
            .values(status=status.value, finished_at=now, error=error)
        )
    return agents


async def agents_in(session: AsyncSession, job_id: str, states: tuple[str, ...]) -> list[str]:
    rows = await session.scalars(
        select(JobResult.agent_id).where(JobResult.job_id == job_id, JobResult.status.in_(states))
    )
    return list(rows)


async def expire_due(
    session: AsyncSession, now: datetime, sent_grace_s: float, limit: int = 5000
) -> list[tuple[str, str]]:
    """Rows still waiting when their job expired become `expired`; returns (job id, agent id) pairs.

    A `sent` row gets a grace period: the agent may have taken the job just before `not_after`."""
    waiting = or_(
        and_(JobResult.status == JobState.QUEUED.value, Job.expires_at <= now),
        and_(
            JobResult.status == JobState.SENT.value, Job.expires_at <= now - timedelta(seconds=sent_grace_s)
        ),
    )
    rows = (
        await session.execute(
            select(JobResult.id, JobResult.job_id, JobResult.agent_id)
            .join(Job, Job.id == JobResult.job_id)
            .where(JobResult.status.in_(UNSTARTED), waiting)
            .limit(limit)
        )
    ).all()
    ids = [row_id for row_id, _, _ in rows]
    for start in range(0, len(ids), CHUNK):
        await session.execute(
            update(JobResult)
            .where(JobResult.id.in_(ids[start : start + CHUNK]), JobResult.status.in_(UNSTARTED))
            .values(status=JobState.EXPIRED.value, finished_at=now, error="the job expired before it ran")
        )
    return [(job_id, agent_id) for _, job_id, agent_id in rows]


async def counts(session: AsyncSession, job_ids: list[str]) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {job_id: Counter() for job_id in job_ids}
    if job_ids:
        rows = await session.execute(
            select(JobResult.job_id, JobResult.status, func.count())
            .where(JobResult.job_id.in_(job_ids))
            .group_by(JobResult.job_id, JobResult.status)
        )
        for job_id, status, count in rows:
            found[job_id][status] = int(count)
    return found


async def options(session: AsyncSession, job_ids: list[str]) -> dict[str, tuple[int, bool]]:
    """job id → (batch size, stop on failure): what a final result may set in motion."""
    rows = await session.execute(
        select(Job.id, Job.batch_size, Job.stop_on_failure).where(Job.id.in_(job_ids))
    )
    return {job_id: (int(batch_size), bool(stop)) for job_id, batch_size, stop in rows}


async def batch_done(session: AsyncSession, job_id: str, batch: int) -> bool:
    left = await session.scalar(
        select(func.count())
        .select_from(JobResult)
        .where(JobResult.job_id == job_id, JobResult.batch <= batch, JobResult.status.in_(UNFINISHED))
    )
    return not left


async def advance_batch(session: AsyncSession, job_id: str, from_batch: int) -> bool:
    """Move the job to its next batch; with several server processes exactly one of them wins."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.current_batch == from_batch)
        .values(current_batch=from_batch + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def last_batch(session: AsyncSession, job_id: str) -> int:
    return int(await session.scalar(select(func.max(JobResult.batch)).where(JobResult.job_id == job_id)) or 0)


async def results(session: AsyncSession, job_id: str, status: str | None = None) -> list[JobResult]:
    query = select(JobResult).where(JobResult.job_id == job_id).order_by(JobResult.id)
    if status is not None:
        query = query.where(JobResult.status == status)
    return list((await session.scalars(query)).all())


async def row_states(session: AsyncSession, job_id: str) -> dict[str, str]:
    rows = await session.execute(
        select(JobResult.agent_id, JobResult.status).where(JobResult.job_id == job_id).order_by(JobResult.id)
    )
    return {agent_id: status for agent_id, status in rows}


def is_final(status: str) -> bool:
    return status in {state.value for state in FINAL_STATES}


HELD = (JobState.SENT.value, JobState.RUNNING.value)


async def holds(session: AsyncSession, job_id: str, agent_id: str) -> bool:
    """Whether the agent holds this job: its row for the job was sent to it and is not final."""
    found = await session.scalar(
        select(JobResult.id).where(
            JobResult.job_id == job_id, JobResult.agent_id == agent_id, JobResult.status.in_(HELD)
        )
    )
    return found is not None
