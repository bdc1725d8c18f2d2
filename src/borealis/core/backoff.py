"""Exponential backoff with full jitter (AWS architecture blog's "full jitter")."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of `uniform(0, min(cap, base * 2**attempt))`; `reset()` after a stable success."""

    base: float = 1.0
    cap: float = 300.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return self.rng.uniform(0, ceiling)

    def at_cap(self) -> float:
        """A delay near the cap, for peers that told us not to come back soon (revoked, unknown)."""
        self.attempt = 32
        return self.rng.uniform(self.cap / 2, self.cap)

    def reset(self) -> None:
        self.attempt = 0
