"""The `heartbeat` message (DESIGN §6 step 2) and its jittered interval."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from borealis.agent.resources import ProcessMeter
from borealis.protocol.messages import MessageType

JITTER = 0.10


class HeartbeatSource:
    """Numbers heartbeats and fills them with this process's resource use since the previous one."""

    def __init__(self, meter: ProcessMeter, roles_health: Callable[[], dict[str, Any]] | None = None) -> None:
        self._meter = meter
        self._roles_health = roles_health
        self._seq = 0

    def next_message(self) -> dict[str, Any]:
        self._seq += 1
        return {
            "t": MessageType.HEARTBEAT.value,
            "seq": self._seq,
            "uptime_s": self._meter.uptime_s(),
            "rss_bytes": self._meter.rss_bytes(),
            "cpu_pct": self._meter.cpu_pct(),
            "roles_health": self._roles_health() if self._roles_health else {},
            "sessions": [],
        }


def jittered(interval_s: float, rng: random.Random) -> float:
    """`interval_s` ± 10 %, so agents that connected together drift apart."""
    return interval_s * rng.uniform(1 - JITTER, 1 + JITTER)
