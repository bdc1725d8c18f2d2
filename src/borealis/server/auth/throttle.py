"""Failed logins per (address, username) in a sliding window: enough of them and logins wait (429).

An attempt is counted before its password is hashed (`attempt`) and forgiven when it succeeds, so
thirty parallel guesses cannot all pass the check while the first ones are still being hashed.

In memory and per server process, held by the process's `ServerState`; bounded, so a flood of made-up
usernames cannot grow it without limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from borealis.core.clock import monotonic
from borealis.core.errors import BorealisError

FAILURE_WINDOW_S = 300.0
MAX_FAILURES = 10
MAX_KEYS = 10_000

Key = tuple[str, str]


class TooManyAttempts(BorealisError):
    status = 429
    slug = "too-many-attempts"
    title = "Too many attempts"


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = monotonic, what: str = "failed logins") -> None:
        self.clock = clock
        self.what = what
        self.failures: dict[Key, deque[float]] = {}

    def check(self, key: Key) -> None:
        window = self.failures.get(key)
        if window is None:
            return
        self._expire(window)
        if len(window) >= MAX_FAILURES:
            raise TooManyAttempts(f"too many {self.what}; wait a few minutes")
        if not window:
            del self.failures[key]

    def attempt(self, key: Key) -> None:
        """Check, then count this attempt as a failure until `succeeded` says otherwise. Nothing awaits
        between the two, so concurrent attempts see each other."""
        self.check(key)
        self.fail(key)

    def fail(self, key: Key) -> None:
        if key not in self.failures and len(self.failures) >= MAX_KEYS:
            self._prune()
        self.failures.setdefault(key, deque(maxlen=MAX_FAILURES)).append(self.clock())

    def succeeded(self, key: Key) -> None:
        """The right password ends the count, so earlier typos do not lock a user out later."""
        self.failures.pop(key, None)

    def _expire(self, window: deque[float]) -> None:
        cutoff = self.clock() - FAILURE_WINDOW_S
        while window and window[0] < cutoff:
            window.popleft()

    def _prune(self) -> None:
        """Drop keys whose failures have all expired; if that is not enough, the stalest half."""
        for key, window in list(self.failures.items()):
            self._expire(window)
            if not window:
                del self.failures[key]
        if len(self.failures) >= MAX_KEYS:
            by_age = sorted(self.failures, key=lambda k: self.failures[k][-1])
            for key in by_age[: len(by_age) // 2]:
                del self.failures[key]
