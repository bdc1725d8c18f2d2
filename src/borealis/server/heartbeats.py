"""A bounded in-memory history of each agent's heartbeat figures (its CPU % and resident memory), kept
for the console's device charts: one sample per `every_s` per agent, at most `keep` samples each, in
compact arrays (12 bytes a sample: about 58 MB for 10,000 agents over the default four hours)."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from borealis.core.clock import utcnow

DEFAULT_EVERY_S = 30.0
DEFAULT_KEEP = 480  # × 30 s: the last four hours
MAX_AGENTS = 200_000
_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    cpu_pct: float
    rss_bytes: int


class _Ring:
    """Parallel fixed-size arrays: epoch seconds, CPU %, RSS in KiB; `start` is the oldest slot."""

    __slots__ = ("count", "cpu", "rss_kib", "start", "times")

    def __init__(self, keep: int) -> None:
        self.times = array("I", bytes(4 * keep))
        self.cpu = array("f", bytes(4 * keep))
        self.rss_kib = array("I", bytes(4 * keep))
        self.start = 0
        self.count = 0

    def last_time(self) -> int | None:
        if not self.count:
            return None
        return self.times[(self.start + self.count - 1) % len(self.times)]

    def append(self, at: int, cpu_pct: float, rss_bytes: int) -> None:
        size = len(self.times)
        if self.count < size:
            slot = (self.start + self.count) % size
            self.count += 1
        else:
            slot = self.start
            self.start = (self.start + 1) % size
        self.times[slot] = at
        self.cpu[slot] = cpu_pct
        self.rss_kib[slot] = min(rss_bytes // 1024, _U32)

    def samples(self) -> list[Sample]:
        size = len(self.times)
        out = []
        for i in range(self.count):
            slot = (self.start + i) % size
            out.append(
                Sample(
                    datetime.fromtimestamp(self.times[slot], UTC),
                    round(float(self.cpu[slot]), 2),
                    int(self.rss_kib[slot]) * 1024,
                )
            )
        return out


class HeartbeatHistory:
    def __init__(
        self,
        every_s: float = DEFAULT_EVERY_S,
        keep: int = DEFAULT_KEEP,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.every_s = every_s
        self.keep = keep
        self.wall = wall
        self.rings: dict[str, _Ring] = {}

    @classmethod
    def for_heartbeat(cls, heartbeat_s: float, hours: float = 4.0) -> HeartbeatHistory:
        """One sample per heartbeat (at least 5 s apart), covering `hours`, at most 2,880 samples."""
        every_s = max(5.0, heartbeat_s)
        return cls(every_s=every_s, keep=max(2, min(2880, int(hours * 3600 / every_s))))

    def record(self, agent_id: str, cpu_pct: float, rss_bytes: int) -> None:
        now = int(self.wall().timestamp())
        ring = self.rings.get(agent_id)
        if ring is None:
            if len(self.rings) >= MAX_AGENTS:
                return
            ring = self.rings[agent_id] = _Ring(self.keep)
        else:
            last = ring.last_time()
            if last is not None and now - last < self.every_s:
                return
        ring.append(now, max(0.0, cpu_pct), max(0, rss_bytes))

    def since(self, agent_id: str, since: datetime | None = None) -> list[Sample]:
        ring = self.rings.get(agent_id)
        if ring is None:
            return []
        return [s for s in ring.samples() if since is None or s.at > since]

    def forget(self, agent_id: str) -> None:
        self.rings.pop(agent_id, None)
