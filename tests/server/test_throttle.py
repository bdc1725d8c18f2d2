"""The failed-login throttle with a fake clock: a sliding window per (address, username), bounded."""

from __future__ import annotations

import pytest

from borealis.server.auth.throttle import (
    FAILURE_WINDOW_S,
    MAX_FAILURES,
    MAX_KEYS,
    LoginThrottle,
    TooManyAttempts,
)

KEY = ("10.0.0.1", "olivia")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, times: int, key: tuple[str, str] = KEY) -> None:
    for _ in range(times):
        throttle.check(key)
        throttle.fail(key)


def test_too_many_failures_wait_out_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    fail(throttle, MAX_FAILURES)
    with pytest.raises(TooManyAttempts):
        throttle.check(KEY)
    throttle.check(("10.0.0.1", "someone-else"))
    throttle.check(("10.0.0.2", "olivia"))
    clock.now += FAILURE_WINDOW_S + 1
    throttle.check(KEY)
    assert throttle.failures == {}  # an empty window is dropped


def test_the_window_slides() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    fail(throttle, MAX_FAILURES - 1)
    clock.now += FAILURE_WINDOW_S - 10
    fail(throttle, 1)
    with pytest.raises(TooManyAttempts):
        throttle.check(KEY)
    clock.now += 11  # the first nine have expired, the last one has not
    throttle.check(KEY)
    assert len(throttle.failures[KEY]) == 1


def test_a_success_clears_the_count() -> None:
    throttle = LoginThrottle(Clock())
    fail(throttle, MAX_FAILURES - 1)
    throttle.succeeded(KEY)
    fail(throttle, MAX_FAILURES - 1)
    throttle.check(KEY)


def test_a_flood_of_made_up_usernames_stays_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for i in range(MAX_KEYS * 2 + 10):
        clock.now += 0.001
        throttle.fail(("10.0.0.1", f"user{i}"))
    assert len(throttle.failures) <= MAX_KEYS
    assert ("10.0.0.1", f"user{MAX_KEYS * 2 + 9}") in throttle.failures  # the newest are kept
