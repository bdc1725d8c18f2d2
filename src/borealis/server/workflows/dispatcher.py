"""Claiming queued runs and executing them in this server process (`engine.Execution`), within each
workflow's concurrency limit; the end of each run written with its node records; an hourly prune."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from borealis.core.errors import InvalidInput
from borealis.core.logs import kv
from borealis.engine.document import Document
from borealis.engine.engine import Execution, RunSpec
from borealis.engine.registry import NodeRegistry
from borealis.engine.services import NodeServices
from borealis.engine.states import RunState
from borealis.server.db.database import Database
from borealis.server.events import EventStream
from borealis.server.workflows import store
from borealis.server.workflows.blobs import RunBlobs
from borealis.server.workflows.events import publish
from borealis.server.workflows.models import WorkflowRun
from borealis.server.workflows.recorder import Recorder

DISPATCH_EVERY_S = 1.0
PRUNE_EVERY_S = 3600.0
CLAIM_BATCH = 200
PARSED_CACHE = 256

log = logging.getLogger("borealis.server.workflows")


@dataclass(frozen=True)
class Ending:
    """How a run ended, as written to its row."""

    status: RunState
    output: Any = None
    error: str | None = None


def ending_of(exc: BaseException, stopping: bool) -> Ending:
    """The ending of a run whose execution raised `exc` (`stopping`: the server is shutting down)."""
    if isinstance(exc, asyncio.CancelledError):
        if stopping:
            return Ending(RunState.INTERRUPTED, error="the server stopped while the run was in flight")
        return Ending(RunState.CANCELLED, error=str(exc.args[0]) if exc.args else "cancelled")
    if isinstance(exc, InvalidInput):  # a version saved before a node type changed
        return Ending(RunState.FAILED, error=exc.detail)
    return Ending(RunState.FAILED, error=f"internal error: {type(exc).__name__}")


class Dispatcher:
    """Runs queued runs in tasks of this process (`owner`); `kick` makes it look at once."""

    def __init__(
        self,
        db: Database,
        blobs: RunBlobs,
        registry: NodeRegistry,
        services: NodeServices,
        events: EventStream,
        owner: str,
        check: Callable[[Any], Document],
        prune: Callable[[], Awaitable[int]],
    ) -> None:
        self.db = db
        self.registry = registry
        self.services = services
        self.events = events
        self.owner = owner
        self.blobs = blobs
        self._check = check
        self._prune = prune
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._parsed: dict[tuple[str, int], Document] = {}

    def kick(self) -> None:
        """Claim queued runs now rather than at the next tick."""
        self._wake.set()

    def start(self) -> None:
        """Start the dispatch loop (claims, and the hourly prune)."""
        self._loop = asyncio.create_task(self._dispatch_loop(), name="workflow-dispatch")

    async def stop(self) -> None:
        """Stop claiming, and cancel the runs in flight (they end `interrupted`)."""
        self._stopping = True
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        for task in list(self._runs.values()):
            task.cancel()
        if self._runs:
            await asyncio.gather(*self._runs.values(), return_exceptions=True)

    def cancel_here(self, run_id: str, reason: str) -> None:
        """Cancel the run's task if this process runs it."""
        task = self._runs.get(run_id)
        if task is not None:
            task.cancel(reason)

    async def _dispatch_loop(self) -> None:
        next_prune = 0.0
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), DISPATCH_EVERY_S)
            self._wake.clear()
            try:
                await self._claim_queued()
                if loop.time() >= next_prune:
                    next_prune = loop.time() + PRUNE_EVERY_S
                    await self._prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("workflow dispatch failed")

    async def _claim_queued(self) -> None:
        """Claim queued runs in one transaction, within each workflow's concurrency, and start them."""
        async with self.db.transaction() as session:
            waiting = await store.queued(session, CLAIM_BATCH)
            if not waiting:
                return
            workflow_ids = {run.workflow_id for run in waiting}
            running = await store.running_counts(session, workflow_ids)
            limits = await store.concurrency_limits(session, workflow_ids)
            chosen: list[WorkflowRun] = []
            for run in waiting:
                if (
                    run.workflow_id not in limits
                    or running.get(run.workflow_id, 0) >= limits[run.workflow_id]
                ):
                    continue
                if await store.claim(session, run.id, self.owner):
                    running[run.workflow_id] = running.get(run.workflow_id, 0) + 1
                    chosen.append(run)
        for run in chosen:
            self._runs[run.id] = asyncio.create_task(self._execute(run), name=f"run-{run.id}")

    async def _document(self, workflow_id: str, version: int) -> Document:
        """A version's parsed document; versions never change, so they are kept (a bounded cache)."""
        key = (workflow_id, version)
        found = self._parsed.get(key)
        if found is None:
            async with self.db.session() as session:
                raw = (await store.get_version(session, workflow_id, version)).document
            found = self._check(raw)
            if len(self._parsed) >= PARSED_CACHE:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[key] = found
        return found

    async def _execute(self, run: WorkflowRun) -> None:
        await publish(self.events, run.id, "run", status=RunState.RUNNING)
        recorder = Recorder(self.db, self.blobs, self.events, run.id)
        try:
            ending = await self._outcome(run, recorder)
        except asyncio.CancelledError as cancelled:
            ending = ending_of(cancelled, self._stopping)
        except Exception as exc:
            if not isinstance(exc, InvalidInput):
                log.exception("run failed unexpectedly", extra=kv(run_id=run.id))
            ending = ending_of(exc, self._stopping)
        finally:
            self._runs.pop(run.id, None)
        async with self.db.transaction() as session:
            recorder.flush_into(session)
            await store.finish(
                session, run.id, ending.status, ending.output, ending.error, (RunState.RUNNING,)
            )
        await publish(self.events, run.id, "run", status=ending.status, error=ending.error)
        self.kick()  # a slot is free: queued runs of this workflow may go

    async def _outcome(self, run: WorkflowRun, recorder: Recorder) -> Ending:
        parsed = await self._document(run.workflow_id, run.workflow_version)
        spec = RunSpec(
            run.id, run.workflow_id, dict(run.trigger), list(run.input or []), run.created_by, self.services
        )
        outcome = await Execution(parsed, self.registry, spec, recorder.record).run()
        output = await self.blobs.payload(run.id, "output", outcome.output)
        return Ending(outcome.status, output, outcome.error)
