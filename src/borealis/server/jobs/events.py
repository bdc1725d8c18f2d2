"""Live job events for SSE listeners: state changes and output chunks, shared across server processes
through the bus (`job.event`). Each listener has a bounded queue; a slow one loses events and is told
how many (it then re-reads the job's state), it never slows the gateway."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from borealis.server.bus import Bus

SUBJECT = "job.event"
LISTENER_BUFFER = 512


class Listener:
    def __init__(self, job_id: str, size: int) -> None:
        self.job_id = job_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.dropped = 0


class JobEvents:
    def __init__(self, bus: Bus, buffer: int = LISTENER_BUFFER) -> None:
        self.bus = bus
        self.buffer = buffer
        self.listeners: defaultdict[str, set[Listener]] = defaultdict(set)
        self.dropped_total = 0

    async def start(self) -> None:
        await self.bus.subscribe(SUBJECT, self._deliver)

    async def publish(self, event: dict[str, Any]) -> None:
        await self.bus.publish(SUBJECT, event)

    def listen(self, job_id: str) -> Listener:
        listener = Listener(job_id, self.buffer)
        self.listeners[job_id].add(listener)
        return listener

    def unlisten(self, listener: Listener) -> None:
        listeners = self.listeners.get(listener.job_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self.listeners[listener.job_id]

    async def _deliver(self, event: dict[str, Any]) -> None:
        for listener in self.listeners.get(str(event.get("job_id")), ()):
            try:
                listener.queue.put_nowait(event)
            except asyncio.QueueFull:
                listener.dropped += 1
                self.dropped_total += 1
