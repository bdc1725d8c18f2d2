"""A run's node records, written in one transaction with the run's end — or, for a run that goes on,
at most every `RECORD_FLUSH_S` — so a short run costs a handful of writes, not one per node."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncSession

from borealis.engine.engine import NodeRecord
from borealis.server.db.database import Database
from borealis.server.events import EventStream
from borealis.server.workflows.blobs import RunBlobs
from borealis.server.workflows.events import publish
from borealis.server.workflows.models import WorkflowNodeRun

RECORD_FLUSH_S = 1.0


class Recorder:
    """Collects one run's node records; each is published as a `node` event at once."""

    def __init__(self, db: Database, blobs: RunBlobs, events: EventStream, run_id: str) -> None:
        self._db = db
        self._blobs = blobs
        self._events = events
        self._run_id = run_id
        self._pending: list[WorkflowNodeRun] = []
        self._flushed_at = time.monotonic()

    async def record(self, entry: NodeRecord) -> None:
        """Keep one attempt's record (large input and output as blobs) and publish it."""
        run_id = self._run_id
        prefix = f"{entry.node_id}-{entry.attempt}"
        self._pending.append(
            WorkflowNodeRun(
                run_id=run_id,
                node_id=entry.node_id,
                node_type=entry.node_type,
                attempt=entry.attempt,
                status=entry.status,
                input=await self._blobs.payload(run_id, f"{prefix}-input", entry.input),
                output=await self._blobs.payload(run_id, f"{prefix}-output", entry.output),
                error=entry.error,
                started_at=entry.started_at,
                finished_at=entry.finished_at,
                duration_ms=entry.duration_ms,
            )
        )
        await publish(
            self._events,
            run_id,
            "node",
            node_id=entry.node_id,
            attempt=entry.attempt,
            status=entry.status,
            error=entry.error,
            duration_ms=entry.duration_ms,
        )
        if time.monotonic() - self._flushed_at >= RECORD_FLUSH_S:
            async with self._db.transaction() as session:
                self.flush_into(session)

    def flush_into(self, session: AsyncSession) -> None:
        """Add the records kept so far to `session` (written when it commits)."""
        session.add_all(self._pending)
        self._pending = []
        self._flushed_at = time.monotonic()
