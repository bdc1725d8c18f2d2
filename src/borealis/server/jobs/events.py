"""Live events for SSE listeners — a job's state changes and output chunks, a workflow run's node and
run changes — shared across server processes through the bus (`job.event`, `workflow.event`). Each listener has a bounded queue; a slow one loses events and is told
how many (it then re-reads the job's state), it never slows the gateway."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from borealis.server.bus import Bus

SUBJECT = "job.event"
LISTENER_BUFFER = 512


class Listener:
    def __init__(self, topic: str, size: int) -> None:
        self.topic = topic
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.dropped = 0


class JobEvents:
    """Events keyed by `key` (a job's or a run's id) on the bus `subject`."""

    def __init__(
        self, bus: Bus, buffer: int = LISTENER_BUFFER, subject: str = SUBJECT, key: str = "job_id"
    ) -> None:
        self.bus = bus
        self.buffer = buffer
        self.subject = subject
        self.key = key
        self.listeners: defaultdict[str, set[Listener]] = defaultdict(set)
        self.dropped_total = 0

    async def start(self) -> None:
        await self.bus.subscribe(self.subject, self._deliver)

    async def publish(self, event: dict[str, Any]) -> None:
        await self.bus.publish(self.subject, event)

    def listen(self, topic: str) -> Listener:
        listener = Listener(topic, self.buffer)
        self.listeners[topic].add(listener)
        return listener

    def unlisten(self, listener: Listener) -> None:
        listeners = self.listeners.get(listener.topic)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self.listeners[listener.topic]

    async def _deliver(self, event: dict[str, Any]) -> None:
        for listener in self.listeners.get(str(event.get(self.key)), ()):
            try:
                listener.queue.put_nowait(event)
            except asyncio.QueueFull:
                listener.dropped += 1
                self.dropped_total += 1
