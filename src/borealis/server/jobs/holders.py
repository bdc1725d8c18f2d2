"""Which agent holds which job, for the output frames agents stream: a `job.output` is accepted only
from an agent whose row for that job was sent to it and is not final (anything else is dropped, so an
agent cannot write into other jobs' live streams). Answers are cached briefly: output comes in many
small frames."""

from __future__ import annotations

from borealis.core.clock import monotonic
from borealis.server.db.database import Database
from borealis.server.jobs import store

HELD_FOR_S = 30.0  # a yes is trusted this long (a row that became final meanwhile just ends the stream)
NOT_HELD_FOR_S = 2.0  # a no this long: a frame that races the row's `sent` is retried soon after
MAX_ENTRIES = 50_000


class Holders:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}

    async def holds(self, agent_id: str, job_id: str) -> bool:
        key = (agent_id, job_id)
        now = monotonic()
        known = self._known.get(key)
        if known is not None and now < known[1]:
            return known[0]
        async with self.db.session() as session:
            held = await store.holds(session, job_id, agent_id)
        if len(self._known) >= MAX_ENTRIES:
            self._known = {k: v for k, v in self._known.items() if v[1] > now}
            if len(self._known) >= MAX_ENTRIES:
                self._known.clear()
        self._known[key] = (held, now + (HELD_FOR_S if held else NOT_HELD_FOR_S))
        return held

    def forget(self, agent_id: str, job_id: str) -> None:
        """The agent's row became final: later output for it is no longer accepted."""
        self._known.pop((agent_id, job_id), None)
