"""The scheduler loop: sleep until the earliest slot (at most one tick, so other processes' changes are
seen), claim what is due, record every slot's fate, fire the claimed ones, release queued ones whose
previous run ended, and prune the record.

A slot is claimed only once its time has come (`next_run_at <= now`), so nothing fires early. Firing is
at most once: the claim commits before the job or workflow run is submitted, and a slot left `firing`
by a server that died is marked `failed`, never fired again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import monotonic, utcnow
from borealis.core.errors import BorealisError, Forbidden
from borealis.core.logs import kv
from borealis.core.settings import ServerSettings
from borealis.server import audit
from borealis.server.auth import authority
from borealis.server.auth.scopes import Scope
from borealis.server.db.database import Database
from borealis.server.db.models import Schedule
from borealis.server.jobs.service import JobService
from borealis.server.schedules import actions, store
from borealis.server.schedules.policy import Decision, Misfire, Outcome, Overlap, plan, scan_due
from borealis.server.schedules.starter import WorkflowStarter
from borealis.server.schedules.timing import Timing

log = logging.getLogger("borealis.server.schedules")
CLAIM_BATCH = 250  # schedules per claim transaction
QUEUED_BATCH = 100
FIRING_AT_ONCE = 8  # concurrent submissions
STALE_FIRING_S = 300.0  # a slot `firing` this long belonged to a server that stopped
RECORD_EVERY = 32  # fired slots recorded per transaction
DRAIN_S = 5.0


@dataclass(frozen=True)
class Firing:
    schedule_id: str
    slot_at: datetime
    fired_at: datetime


class _Changed(BorealisError):
    """A claimed row changed under the claim (it cannot while locked; the guard says so if it did)."""


def timing_of(row: Schedule | Row[Any]) -> Timing:
    return Timing.build(row.cron, row.interval_s, row.timezone, row.anchor_at, row.end_at)


class Scheduler:
    def __init__(self, settings: ServerSettings, db: Database, jobs: JobService) -> None:
        self.settings = settings
        self.db = db
        self.jobs = jobs
        self.starter: WorkflowStarter | None = None
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.firing: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(FIRING_AT_ONCE)
        self.fired = 0

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop())

    def wake(self) -> None:
        """A schedule changed here: look again now rather than at the next tick."""
        self.wakeup.set()

    async def stop(self) -> None:
        if self.task is not None:
            # Python 3.11's wait_for can swallow a cancel that lands as the wakeup is set (a change
            # just before shutdown): cancel again until the loop has really ended.
            while not self.task.done():
                self.task.cancel()
                await asyncio.wait({self.task}, timeout=0.5)
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        if self.firing:
            _, late = await asyncio.wait(set(self.firing), timeout=DRAIN_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def run_until_idle(self) -> None:
        """For tests and benchmarks: one pass over due and queued slots, and every firing finished."""
        await self.run_due()
        await self.run_queued()
        while self.firing:
            await asyncio.gather(*list(self.firing), return_exceptions=True)

    async def _loop(self) -> None:
        failing = False
        prune_at = recover_at = monotonic()
        while True:
            self.wakeup.clear()
            delay = self.settings.scheduler_tick_s
            try:
                await self.run_due()
                await self.run_queued()
                if monotonic() >= recover_at:
                    recover_at = monotonic() + STALE_FIRING_S / 2
                    await self.fail_stale()
                if monotonic() >= prune_at:
                    prune_at = monotonic() + self.settings.schedule_prune_s
                    await self.prune()
                delay = await self._delay()
                if failing:
                    log.info("scheduler recovered")
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failing:  # log a failure once, when the state changes
                    log.exception("scheduler pass failed")
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), delay)

    async def _delay(self) -> float:
        async with self.db.session() as session:
            earliest = await store.next_due(session)
        tick = self.settings.scheduler_tick_s
        if earliest is None:
            return tick
        return min(tick, max(0.001, (earliest - utcnow()).total_seconds()))

    # -- due slots ----------------------------------------------------------------------------------

    async def run_due(self) -> int:
        """Claim and decide every due schedule, then fire what was claimed; returns how many
        schedules were claimed. Every batch is claimed before any is fired, so the claims (the
        moment that decides lateness) do not wait behind the submissions."""
        claimed = 0
        batches: list[list[Firing]] = []
        while True:
            try:
                count, firings = await self._claim(utcnow())
            except _Changed:
                log.info("a due schedule changed while it was claimed; deciding it again")
                break
            claimed += count
            if firings:
                batches.append(firings)
            if count < CLAIM_BATCH:
                break
        for firings in batches:
            self._spawn(firings)
        return claimed

    async def _claim(self, now: datetime) -> tuple[int, list[Firing]]:
        moves: list[store.Advance] = []
        decided: list[tuple[str, Decision]] = []
        async with self.db.transaction() as session:
            if self.db.is_sqlite:
                await store.take_write_lock(session)
            rows = await store.lock_due(session, now, CLAIM_BATCH, postgres=not self.db.is_sqlite)
            for row in rows:
                move, decisions = await self._decide(session, row, now)
                moves.append(move)
                decided.extend((row.id, decision) for decision in decisions)
            if not await store.advance(session, moves):
                raise _Changed("the claimed schedule changed")  # rolls the claim back
            await store.record(session, decided, now)
        firings = [
            Firing(schedule_id, decision.slot_at, now)
            for schedule_id, decision in decided
            if decision.outcome is Outcome.FIRING
        ]
        return len(rows), firings

    async def _decide(
        self, session: AsyncSession, row: Row[Any], now: datetime
    ) -> tuple[store.Advance, list[Decision]]:
        assert row.next_run_at is not None
        try:
            timing = timing_of(row)
        except BorealisError as broken:  # a zone that left tzdata, say: this row ends, the rest go on
            reason = f"ended: its timing no longer holds ({broken.detail})"[:128]
            log.warning("schedule timing broken", extra=kv(schedule_id=row.id, reason=broken.detail))
            skipped = Decision(row.next_run_at, Outcome.SKIPPED, reason)
            return store.Advance(row, None, 0, reason), [skipped]
        due = scan_due(timing, row.next_run_at, now, row.grace_s)
        overlap = Overlap(row.overlap)
        pending: set[str] = set()
        busy = False
        if overlap is not Overlap.ALLOW:
            pending = await store.pending_outcomes(session, row.id)
            busy = bool(pending) or await actions.still_running(
                session, row.last_ref_kind, row.last_ref, self.starter
            )
        runs_left = None if row.max_runs is None else max(0, row.max_runs - row.run_count)
        decided = plan(
            due,
            now,
            Misfire(row.misfire),
            row.grace_s,
            overlap,
            busy,
            Outcome.QUEUED.value in pending,
            runs_left,
        )
        next_run_at = None if decided.max_runs_reached else due.next_slot
        ended = _ended_reason(row, next_run_at, decided.max_runs_reached)
        return store.Advance(row, next_run_at, decided.runs, ended), decided.decisions

    # -- queued slots -------------------------------------------------------------------------------

    async def run_queued(self) -> int:
        """Fire queued slots whose previous run has ended; returns how many."""
        released = 0
        async with self.db.session() as session:
            waiting = await store.queued(session, QUEUED_BATCH)
            ready = []
            for run, row in waiting:
                if not row.enabled:
                    ready.append((run.id, run.slot_at, row))
                    continue
                if Outcome.FIRING.value in await store.pending_outcomes(session, row.id):
                    continue
                if await actions.still_running(session, row.last_ref_kind, row.last_ref, self.starter):
                    continue
                ready.append((run.id, run.slot_at, row))
        for run_id, slot_at, row in ready:
            now = utcnow()
            outcome = Outcome.FIRING if row.enabled else Outcome.SKIPPED
            reason = None if row.enabled else "the schedule was disabled while this slot waited"
            async with self.db.transaction() as session:
                taken = await store.take_queued(session, run_id, now, outcome, reason)
            if taken and row.enabled:
                self._spawn([Firing(row.id, slot_at, now)])
                released += 1
        return released

    # -- firing -------------------------------------------------------------------------------------

    def _spawn(self, firings: list[Firing]) -> None:
        task = asyncio.create_task(self._fire_all(firings))
        self.firing.add(task)
        task.add_done_callback(self.firing.discard)

    async def _fire_all(self, firings: list[Firing]) -> None:
        """Submit the claimed slots (a few at once), recording their outcomes in small batches."""
        for start in range(0, len(firings), RECORD_EVERY):
            chunk = firings[start : start + RECORD_EVERY]
            # What a slot runs is read now, not in the claim (which stays small and quick): an edit
            # in between applies to the slot, a schedule deleted in between fires nothing.
            async with self.db.session() as session:
                what = await store.actions_of(session, sorted({firing.schedule_id for firing in chunk}))
            done = await asyncio.gather(
                *(self._fire(firing, what.get(firing.schedule_id)) for firing in chunk)
            )
            try:
                async with self.db.transaction() as session:
                    await store.finish(session, list(done))
            except Exception:
                log.exception("recording fired slots failed", extra=kv(slots=len(done)))
                continue
            for firing, result in zip(chunk, done, strict=True):
                self.fired += result.ref is not None
                log.info(
                    "schedule fired" if result.ref else "schedule firing failed",
                    extra=kv(
                        schedule_id=firing.schedule_id,
                        slot_at=firing.slot_at.isoformat(),
                        late_ms=round((firing.fired_at - firing.slot_at).total_seconds() * 1000, 1),
                        ref=result.ref,
                        reason=result.reason,
                    ),
                )

    async def _fire(self, firing: Firing, what: tuple[dict[str, Any], str] | None) -> store.Finish:
        if what is None:
            return store.Finish(firing.schedule_id, firing.slot_at, None, None, "the schedule was deleted")
        action, owner = what
        async with self.slots:
            trigger = actions.trigger_of(firing.schedule_id, firing.slot_at, firing.fired_at)
            denied = await self._refusal(firing, action, owner)
            if denied is not None:
                return store.Finish(firing.schedule_id, firing.slot_at, None, None, denied)
            try:
                kind, ref = await actions.fire(action, self.jobs, self.starter, owner, trigger)
            except BorealisError as refused:
                return store.Finish(firing.schedule_id, firing.slot_at, None, None, refused.detail)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("schedule firing failed", extra=kv(schedule_id=firing.schedule_id))
                reason = "the server failed to submit it; the error is in its log"
                return store.Finish(firing.schedule_id, firing.slot_at, None, None, reason)
            return store.Finish(firing.schedule_id, firing.slot_at, kind, ref, None)

    async def _refusal(self, firing: Firing, action: dict[str, Any], owner: str) -> str | None:
        """Why the owner may not make this slot run, as the owner stands now (re-read from the
        database: role, token, user, the token's creator); None when it may. A refusal is audited."""
        try:
            async with self.db.session() as session:
                if action["type"] == actions.JOB:
                    await authority.check_run(session, owner, "this schedule")
                else:
                    principal = await authority.load(session, owner)
                    if not principal.may(Scope.WORKFLOWS_WRITE):
                        raise Forbidden(f"its owner {owner} no longer has workflows:write")
            return None
        except BorealisError as refused:
            reason = f"refused: {refused.detail}"[:512]
        async with self.db.transaction() as session:
            audit.record(
                session,
                owner,
                "schedule.refused",
                firing.schedule_id,
                None,
                slot_at=firing.slot_at.isoformat(),
                reason=reason,
            )
        return reason

    # -- retention ----------------------------------------------------------------------------------

    async def fail_stale(self) -> int:
        async with self.db.transaction() as session:
            stale = await store.fail_stale(session, utcnow() - timedelta(seconds=STALE_FIRING_S))
        if stale:
            log.warning("slots left firing by a stopped server marked failed", extra=kv(slots=stale))
        return stale

    async def prune(self) -> int:
        async with self.db.transaction() as session:
            removed = await store.prune(
                session,
                utcnow() - timedelta(days=self.settings.schedule_runs_days),
                self.settings.schedule_runs_per_schedule,
            )
        if removed:
            log.info("schedule records pruned", extra=kv(removed=removed))
        return removed


def _ended_reason(row: Row[Any], next_run_at: datetime | None, max_runs_reached: bool) -> str | None:
    if max_runs_reached:
        return f"ended after {row.max_runs} runs"
    if next_run_at is None:
        return "ended: its end time has passed" if row.end_at is not None else "ended: no further slot"
    return None
