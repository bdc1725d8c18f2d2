"""Admission to the password-hash threads: a bounded queue, and a share of it per client address.

Argon2 runs on two threads (`secrets`); every login waits its turn there. Without a bound, thirty junk
logins put a real one seconds behind them. So at most `capacity` logins hash or wait at once (beyond
that: 503, try again shortly), and one address holds at most `per_address` of those places (beyond
that: 429), so one client cannot fill the queue that everyone else's logins need.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from borealis.core.errors import TransientError
from borealis.server.auth.throttle import TooManyAttempts

CAPACITY = 8
PER_ADDRESS = 2


class HashQueueFull(TransientError):
    title = "Too many logins at once"


class HashGate:
    def __init__(self, capacity: int = CAPACITY, per_address: int = PER_ADDRESS) -> None:
        self.capacity = capacity
        self.per_address = per_address
        self.inside: dict[str, int] = {}
        self.total = 0

    @contextmanager
    def admit(self, address: str) -> Iterator[None]:
        """Hold a place while the body runs; refuse at once when there is none."""
        if self.inside.get(address, 0) >= self.per_address:
            raise TooManyAttempts("too many logins in progress from your address; try again shortly")
        if self.total >= self.capacity:
            raise HashQueueFull("the server is checking too many logins at once; try again shortly")
        self.inside[address] = self.inside.get(address, 0) + 1
        self.total += 1
        try:
            yield
        finally:
            self.total -= 1
            left = self.inside[address] - 1
            if left:
                self.inside[address] = left
            else:
                del self.inside[address]
