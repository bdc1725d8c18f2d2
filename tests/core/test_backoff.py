"""Reconnect delays: exponential with full jitter, capped, reset after a stable connection."""

from __future__ import annotations

import random

from borealis.core.backoff import Backoff


def test_delays_grow_to_the_cap_and_never_exceed_it() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=random.Random(7))
    for attempt in range(60):
        delay = backoff.next_delay()
        assert 0 <= delay <= min(300.0, 2**attempt)
    assert (
        max(Backoff(base=1, cap=300, rng=random.Random(s), attempt=40).next_delay() for s in range(50)) > 150
    )


def test_full_jitter_spreads_the_delays() -> None:
    delays = {
        round(Backoff(base=1, cap=300, rng=random.Random(seed), attempt=6).next_delay(), 3)
        for seed in range(50)
    }
    assert len(delays) > 40  # agents restarted together do not come back together


def test_reset_starts_again_from_the_base() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=random.Random(1))
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_at_cap_stays_away_long() -> None:
    backoff = Backoff(base=1.0, cap=300.0, rng=random.Random(3))
    assert all(150.0 <= backoff.at_cap() <= 300.0 for _ in range(100))
    assert backoff.next_delay() <= 300.0
