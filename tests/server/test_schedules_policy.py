"""The rules for due slots: within the grace they fire; missed ones are skipped or folded into one
run (run_once); overlap allow/skip/queue; the end after N runs; long outages stay bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from borealis.server.schedules.policy import (
    MAX_LISTED_MISSES,
    Misfire,
    Outcome,
    Overlap,
    plan,
    scan_due,
)
from borealis.server.schedules.timing import Timing

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def every(seconds: int) -> Timing:
    return Timing.build(None, seconds, "UTC", T0, None)


def outcomes(decisions: list[object]) -> list[tuple[int, str]]:
    return [(int((d.slot_at - T0).total_seconds()), d.outcome.value) for d in decisions]  # type: ignore[attr-defined]


def test_slots_within_the_grace_fire_late_and_missed_ones_are_skipped() -> None:
    now = T0 + timedelta(seconds=21)  # slots at 2, 4, …, 20 are due; grace 5 s: 16, 18, 20 are on time
    due = scan_due(every(2), T0 + timedelta(seconds=2), now, grace_s=5)
    assert due.next_slot == T0 + timedelta(seconds=22)
    decided = plan(due, now, Misfire.SKIP, 5, Overlap.ALLOW, busy=False, queued=False, runs_left=None)
    assert outcomes(decided.decisions) == [
        *[(s, "skipped") for s in range(2, 16, 2)],
        (16, "firing"),
        (18, "firing"),
        (20, "firing"),
    ]
    assert decided.runs == 3 and not decided.max_runs_reached
    assert "grace of 5s" in (decided.decisions[0].reason or "")


def test_run_once_fires_the_latest_missed_slot_once_for_all() -> None:
    now = T0 + timedelta(seconds=21)
    due = scan_due(every(2), T0 + timedelta(seconds=2), now, grace_s=0.5)
    assert due.on_time == []
    decided = plan(due, now, Misfire.RUN_ONCE, 0.5, Overlap.ALLOW, busy=False, queued=False, runs_left=None)
    assert outcomes(decided.decisions) == [*[(s, "skipped") for s in range(2, 20, 2)], (20, "firing")]
    assert "10 missed slots" in (decided.decisions[-1].reason or "")
    assert "run_once fired the slot of" in (decided.decisions[0].reason or "")


def test_overlap_skip_and_queue_while_the_previous_run_goes_on() -> None:
    now = T0 + timedelta(seconds=4)
    due = scan_due(every(2), T0 + timedelta(seconds=2), now, grace_s=10)
    skip = plan(due, now, Misfire.SKIP, 10, Overlap.SKIP, busy=True, queued=False, runs_left=None)
    assert outcomes(skip.decisions) == [(2, "skipped"), (4, "skipped")]
    assert skip.runs == 0
    queue = plan(due, now, Misfire.SKIP, 10, Overlap.QUEUE, busy=True, queued=False, runs_left=None)
    assert outcomes(queue.decisions) == [(2, "queued"), (4, "skipped")]
    idle = plan(due, now, Misfire.SKIP, 10, Overlap.SKIP, busy=False, queued=False, runs_left=None)
    assert outcomes(idle.decisions) == [(2, "firing"), (4, "skipped")]  # the first is still going
    allow = plan(due, now, Misfire.SKIP, 10, Overlap.ALLOW, busy=True, queued=False, runs_left=None)
    assert outcomes(allow.decisions) == [(2, "firing"), (4, "firing")]


def test_the_end_after_n_runs_stops_deciding() -> None:
    now = T0 + timedelta(seconds=6)
    due = scan_due(every(2), T0 + timedelta(seconds=2), now, grace_s=10)
    decided = plan(due, now, Misfire.SKIP, 10, Overlap.ALLOW, busy=False, queued=False, runs_left=2)
    assert outcomes(decided.decisions) == [(2, "firing"), (4, "firing")]
    assert decided.max_runs_reached


def test_a_long_outage_is_recorded_in_bounded_rows() -> None:
    now = T0 + timedelta(days=2, milliseconds=500)
    due = scan_due(every(1), T0 + timedelta(seconds=1), now, grace_s=0)
    assert not due.missed.exact  # counting stopped; the next slot is still right
    assert due.next_slot == T0 + timedelta(days=2, seconds=1)
    decided = plan(due, now, Misfire.SKIP, 0, Overlap.ALLOW, busy=False, queued=False, runs_left=None)
    assert len(decided.decisions) == MAX_LISTED_MISSES + 1
    summary = decided.decisions[0]
    assert summary.outcome is Outcome.SKIPPED and summary.slots > 1
    assert (summary.reason or "").startswith("at least")
    assert sum(d.slots for d in decided.decisions) == due.missed.count
