"""How long the worker stays away after a connection ends (DESIGN §6 step 5).

Full-jitter exponential backoff from `backoff_base_s` to `backoff_cap_s`, reset after a connection
that stayed up `stable_after_s`. A server that refuses the agent for good (revoked, unknown, protocol
too old, or a server key that is not the pinned one) is retried near the cap; an agent waiting for
approval retries on the normal curve but at least every `PENDING_RETRY_CAP_S`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from borealis.core.backoff import Backoff
from borealis.protocol.messages import CloseCode

PENDING_RETRY_CAP_S = 30.0

ABNORMAL_CLOSURE = 1006  # no close frame: the network or the server went away

_REASONS = {
    CloseCode.NORMAL: "closed by the server",
    CloseCode.GOING_AWAY: "the server is going away",
    CloseCode.UNKNOWN_AGENT: "unknown agent",
    CloseCode.REVOKED: "agent revoked",
    CloseCode.PROTOCOL_TOO_OLD: "agent protocol too old; upgrade the agent",
    CloseCode.PENDING_APPROVAL: "waiting for an administrator to approve the agent",
    CloseCode.BAD_HELLO: "the server rejected the hello",
    CloseCode.REPLACED: "another connection with this agent's identity replaced this one",
}


@dataclass(frozen=True)
class SessionOutcome:
    """How one connection attempt ended. `close_code` is None when no WebSocket was ever opened."""

    close_code: int | None = None
    close_reason: str = ""
    error: str | None = None
    welcomed: bool = False
    connected_for_s: float = 0.0
    key_mismatch: bool = False

    @property
    def why(self) -> str:
        """A short human reason, for logs and the status file."""
        if self.key_mismatch:
            return "server key mismatch"
        if self.close_reason:
            return self.close_reason
        if self.close_code == ABNORMAL_CLOSURE:
            return "connection lost"
        if self.close_code is not None:
            try:
                return _REASONS.get(CloseCode(self.close_code), f"closed with code {self.close_code}")
            except ValueError:
                return f"closed with code {self.close_code}"
        return self.error or "connection failed"


class RetryKind(StrEnum):
    RETRY = "retry"
    PENDING = "pending"
    REFUSED = "refused"


@dataclass(frozen=True)
class RetryPlan:
    delay_s: float
    kind: RetryKind


class ReconnectPolicy:
    def __init__(self, base_s: float, cap_s: float, stable_after_s: float, rng: random.Random | None = None):
        self._backoff = Backoff(base=base_s, cap=cap_s, rng=rng or random.Random())
        self._stable_after_s = stable_after_s

    def plan(self, outcome: SessionOutcome) -> RetryPlan:
        code = outcome.close_code
        stable = outcome.welcomed and outcome.connected_for_s >= self._stable_after_s
        if stable and code != CloseCode.REPLACED:
            self._backoff.reset()
        if outcome.key_mismatch or (code is not None and _permanent(code)):
            return RetryPlan(self._backoff.at_cap(), RetryKind.REFUSED)
        if code == CloseCode.PENDING_APPROVAL:
            return RetryPlan(min(self._backoff.next_delay(), PENDING_RETRY_CAP_S), RetryKind.PENDING)
        return RetryPlan(self._backoff.next_delay(), RetryKind.RETRY)


def _permanent(code: int) -> bool:
    try:
        return CloseCode(code).permanent
    except ValueError:
        return False
