"""Uploads from many agents written together: each waits in a bounded queue, a single writer takes
what arrived within a short window (or a full batch) and stores it in one transaction, then tells
every waiting upload it is stored, so its ack follows the commit and never precedes it.

On SQLite one write transaction per upload would serialize 10,000 agents behind each other; one per
batch keeps the writer busy for a few hundred milliseconds a second at most. A batch that fails is
retried upload by upload, so one bad upload fails alone (unacknowledged: the agent sends it again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from borealis.core.errors import TransientError
from borealis.core.logs import kv
from borealis.server.inventory.inbound import Upload

log = logging.getLogger("borealis.server.inventory")
WINDOW_S = 0.1
MAX_BATCH = 64
MAX_WAITING = 256

Writer = Callable[[list[tuple[str, Upload]]], Awaitable[None]]


@dataclass
class Waiting:
    agent_id: str
    upload: Upload
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Batches:
    def __init__(
        self,
        write: Writer,
        window_s: float = WINDOW_S,
        max_batch: int = MAX_BATCH,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self.write = write
        self.window_s = window_s
        self.max_batch = max_batch
        self.queue: asyncio.Queue[Waiting] = asyncio.Queue(maxsize=max_waiting)
        self.task: asyncio.Task[None] | None = None
        self.batches = 0
        self.failures = 0

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        while not self.queue.empty():  # never acknowledged: their agents send them again
            _settle(self.queue.get_nowait(), TransientError("the server is stopping"))

    async def store(self, agent_id: str, upload: Upload) -> None:
        """Return once the upload is committed; raise if it could not be (`TransientError` when the
        server stops first)."""
        waiting = Waiting(agent_id, upload)
        await self.queue.put(waiting)  # a full queue holds the agent's socket: backpressure
        await waiting.done

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.window_s
            while len(batch) < self.max_batch:
                if not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
            await self._write(batch)

    async def _write(self, batch: list[Waiting]) -> None:
        self.batches += 1
        try:
            await self.write([(w.agent_id, w.upload) for w in batch])
        except asyncio.CancelledError:
            for waiting in batch:  # rolled back, never acknowledged: their agents send them again
                _settle(waiting, TransientError("the server is stopping"))
            raise
        except Exception as failed:
            if len(batch) == 1:
                self.failures += 1
                log.warning(
                    "inventory upload not stored",
                    extra=kv(agent_id=batch[0].agent_id, error=type(failed).__name__),
                )
                _settle(batch[0], failed)
                return
            for waiting in batch:
                await self._write([waiting])
            return
        for waiting in batch:
            _settle(waiting, None)


def _settle(waiting: Waiting, error: BaseException | None) -> None:
    if waiting.done.done():
        return
    if error is None:
        waiting.done.set_result(None)
    else:
        waiting.done.set_exception(error)
