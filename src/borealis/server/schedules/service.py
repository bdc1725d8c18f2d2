"""The schedule service: create, replace (refusing a stale version), delete, enable and disable
schedules, read them, their slot records and their next fire times; it owns the scheduler loop.

A schedule runs as its owner, recorded by id: the principal who last set it (created, replaced or
enabled it), so whoever changes what runs answers for it. A library script its job names is pinned to
a version and content hash when it is saved (unless it says `script_version: "latest"`). Enabling
starts from the next slot after now; slots that passed while a schedule was disabled are not slots it
missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from borealis.core.clock import utcnow
from borealis.core.errors import Conflict, InvalidInput
from borealis.core.ids import new_id
from borealis.core.settings import ServerSettings
from borealis.server import audit
from borealis.server.auth.principal import display_of
from borealis.server.db.database import Database
from borealis.server.db.models import Schedule
from borealis.server.jobs.service import JobService
from borealis.server.jobs.spec import check_cosign, pin_script, resolve_params
from borealis.server.schedules import actions, store
from borealis.server.schedules.policy import Misfire, Overlap
from borealis.server.schedules.runner import Scheduler, timing_of
from borealis.server.schedules.starter import WorkflowStarter
from borealis.server.schedules.timing import Timing
from borealis.server.schedules.views import run_view, schedule_view, slot_view

MAX_PREVIEW = 100


@dataclass(frozen=True)
class Draft:
    """A schedule as asked for, already checked for shape (by the API's models)."""

    name: str
    cron: str | None
    interval_s: int | None
    timezone: str
    start_at: datetime | None
    end_at: datetime | None
    max_runs: int | None
    misfire: Misfire
    grace_s: float
    overlap: Overlap
    action: dict[str, Any]
    enabled: bool


class ScheduleService:
    def __init__(self, settings: ServerSettings, db: Database, jobs: JobService) -> None:
        self.settings = settings
        self.db = db
        self.jobs = jobs
        self.runner = Scheduler(settings, db, jobs)

    @property
    def starter(self) -> WorkflowStarter | None:
        return self.runner.starter

    @starter.setter
    def starter(self, starter: WorkflowStarter | None) -> None:
        """Set by the workflow engine when it starts; until then workflow schedules are refused."""
        self.runner.starter = starter

    def start(self) -> None:
        self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()

    async def run_until_idle(self) -> None:
        await self.runner.run_until_idle()

    # -- changes --------------------------------------------------------------------------------------

    async def create(self, draft: Draft, actor: str, ip: str | None) -> dict[str, Any]:
        now = utcnow()
        anchor = draft.start_at or now.replace(microsecond=0)
        timing = await self._check(draft, anchor)
        async with self.db.transaction() as session:
            if await store.count(session) >= self.settings.max_schedules:
                raise Conflict(f"there are already {self.settings.max_schedules} schedules (the limit)")
            row = Schedule(
                id=new_id(),
                run_count=0,
                owner=actor,
                owner_name=display_of(actor),
                version=1,
                created_by=actor,
                created_at=now,
                updated_by=actor,
                updated_at=now,
            )
            _apply(row, draft, anchor, timing, now)
            session.add(row)
            audit.record(session, actor, "schedule.create", row.id, ip, name=row.name, runs=_kind(draft))
        self.runner.wake()
        return schedule_view(row)

    async def replace(
        self, schedule_id: str, version: int, draft: Draft, actor: str, ip: str | None
    ) -> dict[str, Any]:
        now = utcnow()
        async with self.db.session() as session:
            anchor = draft.start_at or (await store.get(session, schedule_id)).anchor_at
        timing = await self._check(draft, anchor)
        async with self.db.transaction() as session:
            row = await store.get(session, schedule_id)
            _check_version(row, version)
            _apply(row, draft, anchor, timing, now)
            row.owner = row.updated_by = actor
            row.owner_name = display_of(actor)
            row.updated_at = now
            row.version += 1
            audit.record(session, actor, "schedule.update", row.id, ip, name=row.name, version=row.version)
        self.runner.wake()
        return schedule_view(row)

    async def set_enabled(
        self, schedule_id: str, enabled: bool, actor: str, ip: str | None
    ) -> dict[str, Any]:
        now = utcnow()
        async with self.db.transaction() as session:
            row = await store.get(session, schedule_id)
            if row.enabled != enabled:
                row.enabled = enabled
                if enabled and row.next_run_at is not None:
                    row.next_run_at = timing_of(row).next_after(now)
                if enabled:  # whoever lets it run again answers for what it runs
                    row.owner, row.owner_name = actor, display_of(actor)
                row.updated_by = actor
                row.updated_at = now
                row.version += 1
            action = "schedule.enable" if enabled else "schedule.disable"
            audit.record(session, actor, action, row.id, ip, name=row.name)
        self.runner.wake()
        return schedule_view(row)

    async def delete(self, schedule_id: str, actor: str, ip: str | None) -> None:
        async with self.db.transaction() as session:
            row = await store.get(session, schedule_id)
            await session.delete(row)
            audit.record(session, actor, "schedule.delete", row.id, ip, name=row.name)

    # -- reads ----------------------------------------------------------------------------------------

    async def one(self, schedule_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            return schedule_view(await store.get(session, schedule_id))

    async def page(self, limit: int, before_id: str | None) -> dict[str, Any]:
        async with self.db.session() as session:
            rows = await store.page(session, limit, before_id)
        return {
            "items": [schedule_view(row) for row in rows],
            "next_cursor": rows[-1].id if len(rows) == limit else None,
        }

    async def runs(self, schedule_id: str, limit: int, before_id: int | None) -> dict[str, Any]:
        async with self.db.session() as session:
            await store.get(session, schedule_id)
            rows = await store.runs(session, schedule_id, limit, before_id)
        return {
            "items": [run_view(run) for run in rows],
            "next_cursor": str(rows[-1].id) if len(rows) == limit else None,
        }

    async def preview(self, schedule_id: str, count: int, after: datetime | None) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await store.get(session, schedule_id)
        timing = timing_of(row)
        if row.max_runs is not None:
            count = min(count, max(0, row.max_runs - row.run_count))
        slots = timing.upcoming(after or utcnow(), min(count, MAX_PREVIEW))
        return {
            "timezone": row.timezone,
            "items": [slot_view(slot, timing.zone) for slot in slots],
        }

    # -- checks ---------------------------------------------------------------------------------------

    async def _check(self, draft: Draft, anchor: datetime) -> Timing:
        timing = Timing.build(draft.cron, draft.interval_s, draft.timezone, anchor, draft.end_at)
        if draft.end_at is not None and timing.next_after(utcnow()) is None:
            raise InvalidInput("the schedule has no slot before its end_at", field="end_at")
        if draft.action["type"] == actions.JOB:
            spec, target = actions.job_request(draft.action["job"])
            async with self.db.session() as session:
                try:
                    spec = await resolve_params(
                        session, spec, self.jobs.roles, self.settings.max_script_bytes
                    )
                    if spec.cosign is not None:  # an operator's co-signature: checked now and per slot
                        if not spec.cosign.get("repeat_s"):
                            raise InvalidInput(
                                "a schedule's operator signature must be repeatable (repeat_s)",
                                field="operator_signature.repeat_s",
                            )
                        check_cosign(spec, target, utcnow(), utcnow())
                    if spec.role == "script":
                        job = draft.action["job"]
                        job["params"] = await pin_script(session, dict(job.get("params") or {}))
                except InvalidInput as bad:
                    field = bad.extra.get("field")
                    raise InvalidInput(
                        bad.detail, field=f"action.job.{field}" if field else "action.job"
                    ) from bad
        elif self.starter is None:
            raise Conflict(actions.NO_WORKFLOWS, field="action")
        return timing


def _apply(row: Schedule, draft: Draft, anchor: datetime, timing: Timing, now: datetime) -> None:
    row.name = draft.name
    row.cron = draft.cron.strip() if draft.cron is not None else None
    row.interval_s = draft.interval_s
    row.timezone = draft.timezone
    row.anchor_at = anchor
    row.end_at = draft.end_at
    row.max_runs = draft.max_runs
    row.misfire = draft.misfire.value
    row.grace_s = draft.grace_s
    row.overlap = draft.overlap.value
    row.action = draft.action
    row.enabled = draft.enabled
    if draft.max_runs is not None and row.run_count >= draft.max_runs:
        row.next_run_at, row.ended_reason = None, f"ended after {draft.max_runs} runs"
    else:
        row.next_run_at = timing.next_after(now)
        row.ended_reason = None if row.next_run_at is not None else "ended: no further slot"


def _check_version(row: Schedule, version: int) -> None:
    if row.version != version:
        raise Conflict(
            f"schedule {row.id!r} is at version {row.version}, not {version}: it changed meanwhile; "
            "load it again",
            field="version",
        )


def _kind(draft: Draft) -> str:
    return str(draft.action["type"])
