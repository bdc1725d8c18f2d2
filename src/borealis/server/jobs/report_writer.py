"""One writer for agents' job reports: the gateway's connections put `job.accepted` and `job.result`
into one bounded queue (a full queue makes the sending connection wait); a single task stores what has
gathered while the previous commit ran — up to `max_rows` — in one transaction, and acks each report
only after that commit. A batch that fails is stored again report by report, so one bad row
does not hold back the others; a report whose commit fails is not acked, and the agent sends it again
(storing is idempotent)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from borealis.core.logs import kv
from borealis.server.db.database import Database
from borealis.server.jobs import reports
from borealis.server.jobs.delivery import SEND_ERRORS
from borealis.server.jobs.frames import ack_frame
from borealis.server.jobs.reports import Change, Report

log = logging.getLogger("borealis.server.jobs")
MAX_ROWS = 500
QUEUE_SIZE = 5000
ACK_TIMEOUT_S = 1.0  # an agent that does not read its socket must not stall everyone's acks
GIVE_UP_AFTER = 3  # one by one after a failed batch: consecutive failures that mean the database is down
DRAIN_S = 5.0


class ReportWriter:
    def __init__(
        self,
        db: Database,
        stored: Callable[[list[Change]], Awaitable[None]],
        max_rows: int = MAX_ROWS,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.db = db
        self.stored = stored  # called after each commit with the changes it made
        self.max_rows = max_rows
        self.queue: asyncio.Queue[Report] = asyncio.Queue(maxsize=queue_size)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name="job-report-writer")

    async def stop(self, drain_s: float = DRAIN_S) -> None:
        """Store what is queued (for at most `drain_s`), then stop; what is left is not acked."""
        if self.task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_s):
                await self.queue.join()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.task = None

    async def put(self, report: Report) -> None:
        await self.queue.put(report)

    async def _run(self) -> None:
        while True:
            batch = await self._gather()
            try:
                await self._flush(batch)
            except Exception:  # never let one batch end the writer
                log.exception("job report batch failed", extra=kv(rows=len(batch)))
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def _gather(self) -> list[Report]:
        """What has gathered, up to `max_rows`: one report alone when they come slowly (no wait
        added to it), hundreds when they come faster than a commit takes."""
        batch = [await self.queue.get()]
        while len(batch) < self.max_rows:
            try:
                batch.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch

    async def _flush(self, batch: list[Report]) -> None:
        try:
            changes = await self._commit(batch)
            done = batch
        except Exception:
            if len(batch) == 1:
                self._not_stored(batch[0])
                return
            log.warning(
                "job report batch failed; storing one by one", extra=kv(rows=len(batch)), exc_info=True
            )
            done, changes = await self._one_by_one(batch)
        await self._ack(done)
        if changes:
            await self.stored(changes)

    async def _one_by_one(self, batch: list[Report]) -> tuple[list[Report], list[Change]]:
        done: list[Report] = []
        changes: list[Change] = []
        streak = 0
        for index, report in enumerate(batch):
            try:
                changes += await self._commit([report])
            except Exception:
                self._not_stored(report)
                streak += 1
                if streak >= GIVE_UP_AFTER:
                    log.error("job reports not stored, not acked", extra=kv(rows=len(batch) - index - 1))
                    break
                continue
            streak = 0
            done.append(report)
        return done, changes

    async def _commit(self, batch: list[Report]) -> list[Change]:
        async with self.db.transaction() as session:
            return await reports.apply(session, batch)

    def _not_stored(self, report: Report) -> None:
        log.exception(
            "job report not stored, not acked",
            extra=kv(agent_id=report.agent_id, job_id=report.job_id, result=report.finish is not None),
        )

    async def _ack(self, done: list[Report]) -> None:
        # One deadline for the whole flush (a timer per ack would cost more than the ack): an agent
        # that does not read its socket must not stall everyone's acks. Unsent acks are re-earned:
        # the agent re-sends, and the report is stored once.
        sent = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ACK_TIMEOUT_S):
                for report in done:
                    if report.msg_id is not None:
                        with contextlib.suppress(*SEND_ERRORS):  # gone: re-sent on the next connection
                            await report.reply(ack_frame(report.msg_id))
                    sent += 1
        if sent < len(done):
            log.warning("job acks not sent in time", extra=kv(unsent=len(done) - sent))
