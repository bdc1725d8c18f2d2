"""The reconnect policy: backoff growth, reset after a stable connection, refusals near the cap."""

from __future__ import annotations

import random

from borealis.agent.link.reconnect import PENDING_RETRY_CAP_S, ReconnectPolicy, RetryKind, SessionOutcome

DROPPED = SessionOutcome(error="cannot connect: refused")


def policy(cap: float = 300.0) -> ReconnectPolicy:
    return ReconnectPolicy(base_s=1.0, cap_s=cap, stable_after_s=60.0, rng=random.Random(7))


def test_failures_back_off_exponentially_up_to_the_cap() -> None:
    p = policy(cap=40.0)
    assert p.plan(DROPPED).kind is RetryKind.RETRY
    p = policy(cap=40.0)
    delays = [p.plan(DROPPED).delay_s for _ in range(30)]
    assert delays[0] <= 1.0 and delays[1] <= 2.0 and delays[2] <= 4.0
    assert max(delays) <= 40.0 and max(delays[10:]) > 10.0


def test_a_stable_connection_resets_the_backoff_but_a_short_one_does_not() -> None:
    p = policy()
    for _ in range(10):
        p.plan(DROPPED)
    short = SessionOutcome(close_code=1006, welcomed=True, connected_for_s=5.0)
    stable = SessionOutcome(close_code=1006, welcomed=True, connected_for_s=61.0)
    p.plan(short)
    assert p.plan(stable).delay_s <= 1.0


def test_permanent_refusals_wait_near_the_cap() -> None:
    for code in (4401, 4403, 4426):
        p = policy(cap=300.0)
        plan = p.plan(SessionOutcome(close_code=code))
        assert plan.kind is RetryKind.REFUSED and 150.0 <= plan.delay_s <= 300.0
    mismatch = policy().plan(SessionOutcome(key_mismatch=True))
    assert mismatch.kind is RetryKind.REFUSED and mismatch.delay_s >= 150.0


def test_pending_approval_retries_at_least_every_thirty_seconds() -> None:
    p = policy()
    plans = [p.plan(SessionOutcome(close_code=4423)) for _ in range(20)]
    assert all(plan.kind is RetryKind.PENDING for plan in plans)
    assert max(plan.delay_s for plan in plans) <= PENDING_RETRY_CAP_S


def test_outcomes_explain_themselves() -> None:
    assert SessionOutcome(close_code=4403).why == "agent revoked"
    assert SessionOutcome(close_code=4403, close_reason="revoked by alice").why == "revoked by alice"
    assert SessionOutcome(close_code=4999).why == "closed with code 4999"
    assert SessionOutcome(error="cannot connect: refused").why == "cannot connect: refused"
