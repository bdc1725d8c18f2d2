"""Schedule rows and their slot records: claiming due rows, recording what became of each slot,
finishing and pruning those records.

Claiming is atomic on both databases. PostgreSQL: due rows are selected `FOR UPDATE SKIP LOCKED`, so
several server processes share them without waiting on each other. SQLite (one server process): the
claim transaction takes the write lock first. On both, the row is then advanced by a conditional
UPDATE (`next_run_at` and `updated_at` as read), and `(schedule_id, slot_at)` is unique in the record,
so one slot can never be fired twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, String, Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.errors import NotFound
from borealis.protocol.jobs import JobState
from borealis.server.db.models import JobResult, Schedule, ScheduleRun
from borealis.server.schedules.policy import Decision, Outcome

UNFINISHED_JOB = (JobState.QUEUED.value, JobState.SENT.value, JobState.RUNNING.value)
PENDING = (Outcome.FIRING.value, Outcome.QUEUED.value)
LEFT_OUT_OF_CLAIM = frozenset(
    {"action", "owner", "owner_name", "name", "created_by", "created_at", "updated_by"}
)


async def get(session: AsyncSession, schedule_id: str) -> Schedule:
    row = await session.get(Schedule, schedule_id)
    if row is None:
        raise NotFound(f"no schedule {schedule_id!r}")
    return row


async def page(session: AsyncSession, limit: int, before_id: str | None) -> list[Schedule]:
    query = select(Schedule).order_by(Schedule.id.desc()).limit(limit)
    if before_id:
        query = query.where(Schedule.id < before_id)
    return list((await session.scalars(query)).all())


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Schedule)) or 0)


async def take_write_lock(session: AsyncSession) -> None:
    """SQLite: hold the write lock from the start, so the rows read below are the latest."""
    await session.execute(text("UPDATE schedules SET id = id WHERE 1 = 0"))


async def lock_due(session: AsyncSession, now: datetime, limit: int, postgres: bool) -> list[Row[Any]]:
    """Due rows as plain rows (no ORM identity map: this runs when many are due at once)."""
    table = cast(Table, Schedule.__table__)
    query = (
        select(*(column for column in table.c if column.name not in LEFT_OUT_OF_CLAIM))
        .where(table.c.enabled.is_(True), table.c.next_run_at <= now)
        .order_by(table.c.next_run_at)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).all())


async def actions_of(session: AsyncSession, schedule_ids: list[str]) -> dict[str, tuple[dict[str, Any], str]]:
    """What each schedule runs, and as whom."""
    rows = await session.execute(
        select(Schedule.id, Schedule.action, Schedule.owner).where(Schedule.id.in_(schedule_ids))
    )
    return {schedule_id: (action, owner) for schedule_id, action, owner in rows}


async def next_due(session: AsyncSession) -> datetime | None:
    """The earliest slot of any enabled schedule."""
    value: datetime | None = await session.scalar(
        select(func.min(Schedule.next_run_at)).where(Schedule.enabled.is_(True))
    )
    return value


@dataclass(frozen=True)
class Advance:
    """One claimed row moved past the slots just decided."""

    row: Row[Any]
    next_run_at: datetime | None
    runs: int
    ended_reason: str | None


async def advance(session: AsyncSession, moves: list[Advance]) -> bool:
    """Advance every claimed row in one statement batch, each guarded by the `next_run_at` and
    `updated_at` it was read with; False (nothing may be recorded: roll back) if any row changed."""
    if not moves:
        return True
    table = cast(Table, Schedule.__table__)
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.next_run_at == bindparam("b_old_next"),
            table.c.updated_at == bindparam("b_updated"),
        )
        .values(
            next_run_at=bindparam("b_next"),
            run_count=table.c.run_count + bindparam("b_runs"),
            ended_reason=bindparam("b_ended"),
        )
    )
    result = await session.execute(
        statement,
        [
            {
                "b_id": move.row.id,
                "b_old_next": move.row.next_run_at,
                "b_updated": move.row.updated_at,
                "b_next": move.next_run_at,
                "b_runs": move.runs,
                "b_ended": move.ended_reason,
            }
            for move in moves
        ],
    )
    if not session.get_bind().dialect.supports_sane_multi_rowcount:
        return True  # asyncpg: no count per row, but the rows are locked FOR UPDATE until commit
    return cast(CursorResult[Any], result).rowcount == len(moves)


async def pending_outcomes(session: AsyncSession, schedule_id: str) -> set[str]:
    """Which of `firing` and `queued` this schedule has a slot in."""
    rows = await session.scalars(
        select(ScheduleRun.outcome)
        .where(ScheduleRun.schedule_id == schedule_id, ScheduleRun.outcome.in_(PENDING))
        .distinct()
    )
    return set(rows)


async def job_unfinished(session: AsyncSession, job_id: str) -> bool:
    found = await session.scalar(
        select(JobResult.id).where(JobResult.job_id == job_id, JobResult.status.in_(UNFINISHED_JOB)).limit(1)
    )
    return found is not None


async def record(session: AsyncSession, decided: list[tuple[str, Decision]], now: datetime) -> None:
    """Insert one row per (schedule id, decision), in one statement batch."""
    if not decided:
        return
    await session.execute(
        insert(cast(Table, ScheduleRun.__table__)),
        [
            {
                "schedule_id": schedule_id,
                "slot_at": decision.slot_at,
                "slots": decision.slots,
                "outcome": decision.outcome.value,
                "recorded_at": now,
                "fired_at": now if decision.outcome is Outcome.FIRING else None,
                "job_id": None,
                "workflow_run_id": None,
                "reason": decision.reason[:512] if decision.reason else None,
            }
            for schedule_id, decision in decided
        ],
    )


@dataclass(frozen=True)
class Finish:
    schedule_id: str
    slot_at: datetime
    kind: str | None  # "job" or "workflow" when it fired
    ref: str | None  # the job id or workflow run id when it fired
    reason: str | None  # why it failed, when it did


async def finish(session: AsyncSession, done: list[Finish]) -> None:
    """Record how the firing of these slots ended, and each fired one as its schedule's last run."""
    runs = cast(Table, ScheduleRun.__table__)
    schedules = cast(Table, Schedule.__table__)
    await session.execute(
        update(runs)
        .where(
            runs.c.schedule_id == bindparam("b_schedule"),
            runs.c.slot_at == bindparam("b_slot"),
            runs.c.outcome == Outcome.FIRING.value,
        )
        .values(
            outcome=bindparam("b_outcome"),
            job_id=bindparam("b_job"),
            workflow_run_id=bindparam("b_workflow"),
            reason=func.coalesce(bindparam("b_reason", type_=String), runs.c.reason),
        ),
        [
            {
                "b_schedule": item.schedule_id,
                "b_slot": item.slot_at,
                "b_outcome": (Outcome.FIRED if item.ref else Outcome.FAILED).value,
                "b_job": item.ref if item.kind == "job" else None,
                "b_workflow": item.ref if item.kind == "workflow" else None,
                "b_reason": item.reason[:512] if item.reason else None,
            }
            for item in done
        ],
    )
    fired = [item for item in done if item.ref]
    if fired:
        await session.execute(
            update(schedules)
            .where(schedules.c.id == bindparam("b_id"))
            .values(last_ref=bindparam("b_ref"), last_ref_kind=bindparam("b_kind")),
            [{"b_id": item.schedule_id, "b_ref": item.ref, "b_kind": item.kind} for item in fired],
        )


async def queued(session: AsyncSession, limit: int) -> list[tuple[ScheduleRun, Schedule]]:
    rows = await session.execute(
        select(ScheduleRun, Schedule)
        .join(Schedule, Schedule.id == ScheduleRun.schedule_id)
        .where(ScheduleRun.outcome == Outcome.QUEUED.value)
        .order_by(ScheduleRun.id)
        .limit(limit)
    )
    return [(run, schedule) for run, schedule in rows.all()]


async def take_queued(
    session: AsyncSession, run_id: int, now: datetime, outcome: Outcome, reason: str | None = None
) -> bool:
    """A queued slot becomes `firing` (or `skipped`) here and only here."""
    values: dict[str, Any] = {"outcome": outcome.value}
    if outcome is Outcome.FIRING:
        values["fired_at"] = now
    if reason is not None:
        values["reason"] = reason
    result = await session.execute(
        update(ScheduleRun)
        .where(ScheduleRun.id == run_id, ScheduleRun.outcome == Outcome.QUEUED.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def fail_stale(session: AsyncSession, before: datetime) -> int:
    """Slots left `firing` by a server that stopped while submitting them."""
    result = await session.execute(
        update(ScheduleRun)
        .where(ScheduleRun.outcome == Outcome.FIRING.value, ScheduleRun.recorded_at < before)
        .values(
            outcome=Outcome.FAILED.value,
            reason="interrupted: the server stopped while firing this slot (not submitted twice)",
        )
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount


async def prune(session: AsyncSession, before: datetime, per_schedule: int) -> int:
    """Final slot records older than `before`, then beyond the newest `per_schedule` of a schedule."""
    final = ScheduleRun.outcome.not_in(PENDING)
    result = await session.execute(
        delete(ScheduleRun)
        .where(final, ScheduleRun.recorded_at < before)
        .execution_options(synchronize_session=False)
    )
    removed = cast(CursorResult[Any], result).rowcount
    crowded = await session.scalars(
        select(ScheduleRun.schedule_id)
        .group_by(ScheduleRun.schedule_id)
        .having(func.count() > per_schedule)
        .limit(1000)
    )
    for schedule_id in list(crowded):
        cutoff = await session.scalar(
            select(ScheduleRun.id)
            .where(ScheduleRun.schedule_id == schedule_id)
            .order_by(ScheduleRun.id.desc())
            .offset(per_schedule)
            .limit(1)
        )
        if cutoff is not None:
            result = await session.execute(
                delete(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule_id, ScheduleRun.id <= cutoff, final)
                .execution_options(synchronize_session=False)
            )
            removed += cast(CursorResult[Any], result).rowcount
    return removed


async def runs(
    session: AsyncSession, schedule_id: str, limit: int, before_id: int | None
) -> list[ScheduleRun]:
    query = (
        select(ScheduleRun)
        .where(ScheduleRun.schedule_id == schedule_id)
        .order_by(ScheduleRun.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(ScheduleRun.id < before_id)
    return list((await session.scalars(query)).all())
