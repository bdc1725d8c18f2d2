"""What agents report about their jobs (`job.accepted`, `job.result`), applied to the rows many at a
time. The rules are those of a single report:

    job.accepted   queued | sent            → running
    job.result     queued | sent | running  → its final state; a final row never changes again

Which reports change a row is decided with those rows locked (SQLite: the write lock, taken first;
PostgreSQL: `FOR UPDATE`), so the changes returned are exactly the changes made; they are written
with one executemany statement per kind, each still guarded by the states it may leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from borealis.protocol.jobs import JobState
from borealis.server.db.models import JobResult
from borealis.server.jobs.store import CHUNK, UNFINISHED, UNSTARTED, Finish
from borealis.server.presence import Sender

RUNNING = JobState.RUNNING.value
ROWS: Table = JobResult.__table__  # type: ignore[assignment]  # Core statements, for executemany


@dataclass(frozen=True, slots=True)
class Report:
    """One `job.accepted` (`finish` is None) or `job.result` from one agent, already validated."""

    agent_id: str
    job_id: str
    msg_id: str | None  # acked once stored; None for an accept sent without one
    reply: Sender  # the socket it came on, for the ack
    started_at: datetime | None = None
    finish: Finish | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A row's new state, to publish."""

    job_id: str
    agent_id: str
    status: str
    exit_code: int | None = None


Rows = dict[tuple[str, str], tuple[int, str]]  # (job id, agent id) → (row id, status)


def decide(
    rows: Rows, reports: Sequence[Report]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Change]]:
    """Apply the reports in order to the rows' states: (accept updates, finish updates, changes).

    A report for a row that does not exist (a job this agent never had) or that the rules refuse
    changes nothing; it is acked all the same. An accept followed in the same batch by its row's
    result is written with the result (one row write instead of two; nobody can see the row between
    the two, they are in one transaction), but both changes are returned."""
    states = {key: status for key, (_, status) in rows.items()}
    accepts: dict[tuple[str, str], dict[str, Any]] = {}
    finishes: list[dict[str, Any]] = []
    changes: list[Change] = []
    for report in reports:
        key = (report.job_id, report.agent_id)
        if key not in rows:
            continue
        row_id, status = rows[key][0], states[key]
        done = report.finish
        if done is None:
            if status in UNSTARTED:
                states[key] = RUNNING
                accepts[key] = {"b_id": row_id, "b_started_at": report.started_at}
                changes.append(Change(report.job_id, report.agent_id, RUNNING))
        elif status in UNFINISHED:
            states[key] = done.status.value
            accepted = accepts.pop(key, None)
            started = done.started_at or (accepted["b_started_at"] if accepted else None)
            finishes.append(_finish_values(row_id, done, started))
            changes.append(Change(report.job_id, report.agent_id, done.status.value, done.exit_code))
    return list(accepts.values()), finishes, changes


def _finish_values(row_id: int, done: Finish, started_at: datetime | None) -> dict[str, Any]:
    return {
        "b_id": row_id,
        "b_status": done.status.value,
        "b_exit_code": done.exit_code,
        "b_stdout": done.stdout,
        "b_stderr": done.stderr,
        "b_flags": done.flags,
        "b_data": done.data,
        "b_error": done.error,
        "b_finished_at": done.finished_at,
        "b_started_at": started_at,  # None keeps what the accept stored
    }


def _status_in(states: tuple[str, ...]) -> ColumnElement[bool]:
    """`status IN (…)` with one fixed parameter per state: executemany allows no expanding `IN`."""
    return ROWS.c.status.in_([bindparam(f"b_state_{state}", state) for state in states])


ACCEPT = (
    update(ROWS)
    .where(ROWS.c.id == bindparam("b_id"), _status_in(UNSTARTED))
    .values(status=RUNNING, started_at=bindparam("b_started_at"))
)
FINISH = (
    update(ROWS)
    .where(ROWS.c.id == bindparam("b_id"), _status_in(UNFINISHED))
    .values(
        status=bindparam("b_status"),
        exit_code=bindparam("b_exit_code"),
        stdout=bindparam("b_stdout"),
        stderr=bindparam("b_stderr"),
        flags=bindparam("b_flags"),
        data=bindparam("b_data"),
        error=bindparam("b_error"),
        finished_at=bindparam("b_finished_at"),
        started_at=func.coalesce(bindparam("b_started_at", type_=ROWS.c.started_at.type), ROWS.c.started_at),
    )
)


async def apply(session: AsyncSession, reports: Sequence[Report]) -> list[Change]:
    """Store the reports in this (fresh) transaction; returns the changes they made, in order."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite's driver begins a transaction only at the first write; the rows must be read under
        # the write lock, or a write committed in between would make the decisions below stale.
        await session.execute(text("BEGIN IMMEDIATE"))
    agents_of: dict[str, set[str]] = {}
    for report in reports:
        agents_of.setdefault(report.job_id, set()).add(report.agent_id)
    rows: Rows = {}
    for job_id in sorted(agents_of):  # `job_id = ? AND agent_id IN (…)`: a search of the unique index
        agents = sorted(agents_of[job_id])
        for start in range(0, len(agents), CHUNK):
            query = (
                select(JobResult.id, JobResult.agent_id, JobResult.status)
                .where(JobResult.job_id == job_id, JobResult.agent_id.in_(agents[start : start + CHUNK]))
                .order_by(JobResult.id)
            )
            if not sqlite:
                query = query.with_for_update()
            for row_id, agent_id, status in await session.execute(query):
                rows[(job_id, agent_id)] = (row_id, status)
    accepts, finishes, changes = decide(rows, reports)
    if accepts:
        await session.execute(ACCEPT, accepts)
    if finishes:
        await session.execute(FINISH, finishes)
    return changes
