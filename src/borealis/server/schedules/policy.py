"""What becomes of a schedule's due slots: the misfire policy for slots missed by more than the grace,
the overlap policy while the previous run is still going, and the end after N runs. Pure functions.

- A slot at most `grace_s` late fires (late, with its lateness recorded). One later than that was
  missed (the server was down or stalled): `skip` records it as skipped; `run_once` records all but
  the latest missed slot as skipped and fires that one, once, for all of them.
- Overlap: `allow` fires regardless; `skip` records the slot as skipped while the previous run is
  going; `queue` keeps one slot queued until it ends (a further slot meanwhile is skipped).
- After `max_runs` slots fired or queued, the schedule ends; later slots are not slots at all.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from borealis.server.schedules.timing import Timing

MAX_LISTED_MISSES = 100  # missed slots recorded one row each; older ones share one row
MAX_ON_TIME = 1000  # slots within the grace fired at once after a stall; older ones count as missed
MAX_SCAN = 10_000  # slots looked at per schedule per claim; past that, counting stops


class Misfire(StrEnum):
    SKIP = "skip"
    RUN_ONCE = "run_once"


class Overlap(StrEnum):
    ALLOW = "allow"
    SKIP = "skip"
    QUEUE = "queue"


class Outcome(StrEnum):
    FIRING = "firing"  # claimed, being submitted
    QUEUED = "queued"  # waiting for the previous run to end (overlap `queue`)
    FIRED = "fired"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass
class Missed:
    """Slots missed by more than the grace, in order: how many, the first, and the latest few."""

    count: int = 0
    first: datetime | None = None
    exact: bool = True
    recent: deque[datetime] = field(default_factory=lambda: deque(maxlen=MAX_LISTED_MISSES))

    def add(self, slot: datetime) -> None:
        if self.first is None:
            self.first = slot
        self.count += 1
        self.recent.append(slot)


@dataclass
class Due:
    missed: Missed
    on_time: list[datetime]
    next_slot: datetime | None  # the first slot after now


def scan_due(timing: Timing, first: datetime, now: datetime, grace_s: float) -> Due:
    """Walk the slots from `first` (due: at or before `now`), sorting them into missed and on time."""
    boundary = now - timedelta(seconds=grace_s)  # a slot before this is missed
    missed = Missed()
    on_time: deque[datetime] = deque()
    slot: datetime | None = first
    scanned = 0
    while slot is not None and slot < boundary:
        missed.add(slot)
        scanned += 1
        slot = timing.next_after(slot)
        if scanned >= MAX_SCAN and slot is not None and slot < boundary:
            missed.exact = False
            slot = timing.next_after(boundary - timedelta(microseconds=1))
    while slot is not None and slot <= now:
        on_time.append(slot)
        if len(on_time) > MAX_ON_TIME:
            missed.add(on_time.popleft())
        scanned += 1
        slot = timing.next_after(slot)
        if scanned >= 2 * MAX_SCAN and slot is not None and slot <= now:
            missed.exact = False
            slot = timing.next_after(now)
    return Due(missed, list(on_time), slot)


@dataclass(frozen=True)
class Decision:
    slot_at: datetime
    outcome: Outcome  # FIRING, QUEUED or SKIPPED
    reason: str | None = None
    slots: int = 1


@dataclass(frozen=True)
class Plan:
    decisions: list[Decision]
    runs: int  # slots fired or queued: they count toward max_runs
    max_runs_reached: bool


def plan(
    due: Due,
    now: datetime,
    misfire: Misfire,
    grace_s: float,
    overlap: Overlap,
    busy: bool,
    queued: bool,
    runs_left: int | None,
) -> Plan:
    """Decide every due slot. `busy`: the previous run is still going; `queued`: a slot already waits."""
    decisions = _missed_decisions(due.missed, now, misfire, grace_s)
    candidates: list[tuple[datetime, str | None]] = [(slot, None) for slot in due.on_time]
    if misfire is Misfire.RUN_ONCE and due.missed.recent:
        latest = due.missed.recent[-1]
        stands_for = f"at least {due.missed.count}" if not due.missed.exact else str(due.missed.count)
        candidates.insert(0, (latest, f"run_once: one run for {stands_for} missed slots"))
    runs = 0
    for slot, reason in candidates:
        if runs_left is not None and runs >= runs_left:
            return Plan(decisions, runs, True)
        if overlap is Overlap.ALLOW or not busy:
            decisions.append(Decision(slot, Outcome.FIRING, reason))
            busy = True
            runs += 1
        elif overlap is Overlap.SKIP:
            decisions.append(Decision(slot, Outcome.SKIPPED, "overlap skip: the previous run is still going"))
        elif not queued:
            decisions.append(Decision(slot, Outcome.QUEUED, "overlap queue: waits for the previous run"))
            queued = True
            runs += 1
        else:
            decisions.append(
                Decision(slot, Outcome.SKIPPED, "overlap queue: a slot already waits for the previous run")
            )
    return Plan(decisions, runs, runs_left is not None and runs >= runs_left)


def _missed_decisions(missed: Missed, now: datetime, misfire: Misfire, grace_s: float) -> list[Decision]:
    if not missed.count:
        return []
    listed = list(missed.recent)
    if misfire is Misfire.RUN_ONCE:
        covered_by = listed.pop()  # fired by `plan`
        why = f"missed by more than the grace of {grace_s:g}s; run_once fired the slot of {_iso(covered_by)}"
    else:
        why = f"missed by more than the grace of {grace_s:g}s (misfire skip)"
    decisions: list[Decision] = []
    older = missed.count - len(missed.recent)
    if older > 0 and missed.first is not None:
        counted = str(older) if missed.exact else f"at least {older}"
        decisions.append(
            Decision(missed.first, Outcome.SKIPPED, f"{counted} slots from this one: {why}", slots=older)
        )
    for slot in listed:
        late = (now - slot).total_seconds()
        decisions.append(Decision(slot, Outcome.SKIPPED, f"{why}; {late:.1f}s late"))
    return decisions


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
