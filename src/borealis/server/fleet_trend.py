"""The fleet's status counts over the last day, sampled every few minutes in memory, for the console's
home page chart (online agents over time). Each server process samples the whole fleet as presence
sees it (with several processes on NATS, presence already includes the agents the others hold)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from borealis.core.clock import utcnow
from borealis.server.db.database import Database
from borealis.server.db.models import Agent
from borealis.server.presence import AgentStatus, Presence

log = logging.getLogger("borealis.server.fleet_trend")
DEFAULT_EVERY_S = 300.0
DEFAULT_KEEP = 288  # × 5 minutes: one day


@dataclass(frozen=True, slots=True)
class TrendSample:
    at: datetime
    counts: dict[str, int]


class FleetTrend:
    def __init__(
        self,
        db: Database,
        presence: Presence,
        every_s: float = DEFAULT_EVERY_S,
        keep: int = DEFAULT_KEEP,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.presence = presence
        self.every_s = every_s
        self.wall = wall
        self.samples: deque[TrendSample] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    async def sample_now(self) -> TrendSample:
        query = select(Agent.id, Agent.state, Agent.last_seen, Agent.enrolled_at)
        counts: Counter[str] = Counter()
        async with self.db.session() as session:
            for agent_id, state, last_seen, enrolled_at in (await session.execute(query)).all():
                counts[self.presence.status(agent_id, state, last_seen, enrolled_at).value] += 1
        sample = TrendSample(self.wall(), {status.value: counts[status.value] for status in AgentStatus})
        self.samples.append(sample)
        return sample

    def since(self, since: datetime | None = None) -> list[TrendSample]:
        return [s for s in self.samples if since is None or s.at > since]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fleet-trend")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sample_now()
            except Exception:  # a failed read (database busy, restarting) only costs one sample
                log.warning("fleet trend sample failed", exc_info=True)
            await asyncio.sleep(self.every_s)
