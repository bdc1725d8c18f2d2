"""What agents report about their jobs (`job.accepted`, `job.result`), applied to the rows many at a
time. The rules are those of a single report:

    job.accepted   queued | sent            → running
    job.result     queued | sent | running  → its final state; a final row never changes again

Which reports change a row is decided with those rows locked (SQLite: the write lock, taken first;
PostgreSQL: `FOR UPDATE`), so the changes returned are exactly the changes made; they are written
with one statement per kind (see `_write`), each still guarded by the states it may leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import String, Table, TextClause, bindparam, cast, func, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from borealis.protocol.jobs import JobState
from borealis.server.db.models import JobResult
from borealis.server.jobs.store import CHUNK, UNFINISHED, UNSTARTED, Finish
from borealis.server.presence import Sender

RUNNING = JobState.RUNNING.value
ROWS: Table = JobResult.__table__  # type: ignore[assignment]  # for Core statements


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
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[Change]]:
    """Apply the reports in order to the rows' states: (accept updates, finish updates, changes).

    A report for a row that does not exist (a job this agent never had) or that the rules refuse
    changes nothing; it is acked all the same. An accept followed in the same batch by its row's
    result is written with the result (one row write instead of two; nobody can see the row between
    the two, they are in one transaction), but both changes are returned."""
    states = {key: status for key, (_, status) in rows.items()}
    accepts: dict[tuple[str, str], tuple[int, datetime | None]] = {}
    finishes: list[tuple[Any, ...]] = []
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
                accepts[key] = (row_id, report.started_at)
                changes.append(Change(report.job_id, report.agent_id, RUNNING))
        elif status in UNFINISHED:
            states[key] = done.status.value
            accepted = accepts.pop(key, None)
            started = done.started_at or (accepted[1] if accepted else None)
            finishes.append(_finish_values(row_id, done, started))
            changes.append(Change(report.job_id, report.agent_id, done.status.value, done.exit_code))
    return list(accepts.values()), finishes, changes


def _finish_values(row_id: int, done: Finish, started_at: datetime | None) -> tuple[Any, ...]:
    # in the order of FINISH_COLUMNS; a None `started_at` keeps what the accept stored
    return (
        row_id,
        done.status.value,
        done.exit_code,
        done.stdout,
        done.stderr,
        done.flags,
        done.data,
        done.error,
        done.finished_at,
        started_at,
    )


def _status_in(states: tuple[str, ...]) -> ColumnElement[bool]:
    """`status IN (…)` with one fixed parameter per state: executemany allows no expanding `IN`."""
    return ROWS.c.status.in_([bindparam(f"b_state_{state}", state) for state in states])


# PostgreSQL (asyncpg, on the event loop): one executemany per kind.
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
FINISH_KEYS = (
    "b_id",
    "b_status",
    "b_exit_code",
    "b_stdout",
    "b_stderr",
    "b_flags",
    "b_data",
    "b_error",
    "b_finished_at",
    "b_started_at",
)

# SQLite: one statement per kind for the whole batch, its rows passed as one JSON text. The driver
# runs in a thread that must take the GIL back after every row it steps; with the event loop busy (a
# fan-out's frames) each of those waits up to the interpreter's 5 ms switch interval. Measured with
# 500 results: executemany 16 ms on an idle loop, 150 ms on a busy one.
FINISH_SET = ("status", "exit_code", "stdout", "stderr", "flags", "data", "error", "finished_at")


def _sqlite_update(width: int, assignments: str, states: tuple[str, ...]) -> TextClause:
    """`UPDATE job_results SET … FROM v`, v the batch's rows (`rid`, `c1`…) unpacked from one JSON
    text; materialized, or SQLite would re-read the JSON for every row it looks at."""
    fields = ", ".join(
        f"json_extract(value, '$[{i}]') AS {'rid' if i == 0 else f'c{i}'}" for i in range(width)
    )
    allowed = ", ".join(f":state_{i}" for i in range(len(states)))
    statement = text(
        f"WITH v AS MATERIALIZED (SELECT {fields} FROM json_each(:batch)) "  # noqa: S608 (no input in it)
        f"UPDATE job_results SET {assignments} FROM v "
        f"WHERE job_results.id = v.rid AND job_results.status IN ({allowed})"
    )
    return statement.bindparams(**{f"state_{i}": state for i, state in enumerate(states)})


SQLITE_ACCEPT = _sqlite_update(2, f"status = '{RUNNING}', started_at = v.c1", UNSTARTED)
SQLITE_FINISH = _sqlite_update(
    10,
    ", ".join(f"{name} = v.c{i + 1}" for i, name in enumerate(FINISH_SET))
    + ", started_at = coalesce(v.c9, job_results.started_at)",
    UNFINISHED,
)


def _packed(dialect: Dialect, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    """The rows as one JSON array of arrays, each value as the column's type would bind it."""
    process = [ROWS.c[name].type.bind_processor(dialect) if name != "id" else None for name in columns]
    return orjson.dumps(
        [[f(value) if f else value for f, value in zip(process, row, strict=True)] for row in rows]
    ).decode()


async def _write(
    session: AsyncSession, sqlite: bool, accepts: list[tuple[Any, ...]], finishes: list[tuple[Any, ...]]
) -> None:
    if sqlite:
        dialect = session.get_bind().dialect
        if accepts:
            batch = _packed(dialect, ("id", "started_at"), accepts)
            await session.execute(SQLITE_ACCEPT, {"batch": batch})
        if finishes:
            batch = _packed(dialect, ("id", *FINISH_SET, "started_at"), finishes)
            await session.execute(SQLITE_FINISH, {"batch": batch})
        return
    if accepts:
        await session.execute(ACCEPT, [{"b_id": i, "b_started_at": at} for i, at in accepts])
    if finishes:
        await session.execute(FINISH, [dict(zip(FINISH_KEYS, row, strict=True)) for row in finishes])


async def _locked_rows(session: AsyncSession, job_id: str, agents: list[str], sqlite: bool) -> Rows:
    """The rows of these agents for this job, locked, read as one packed value (one row for the
    driver to step, for the same reason as above): "id agent status,id agent status,…"."""
    inner = select(JobResult.id, JobResult.agent_id, JobResult.status).where(
        JobResult.job_id == job_id, JobResult.agent_id.in_(agents)
    )
    if not sqlite:
        inner = inner.order_by(JobResult.id).with_for_update()
    rows = inner.subquery()
    line = cast(rows.c.id, String) + " " + rows.c.agent_id + " " + rows.c.status
    packed = await session.scalar(select(func.aggregate_strings(line, ",")))
    found: Rows = {}
    for item in packed.split(",") if packed else ():
        row_id, agent_id, status = item.split(" ")
        found[(job_id, agent_id)] = (int(row_id), status)
    return found


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
            rows |= await _locked_rows(session, job_id, agents[start : start + CHUNK], sqlite)
    accepts, finishes, changes = decide(rows, reports)
    await _write(session, sqlite, accepts, finishes)
    return changes
