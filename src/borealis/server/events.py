"""The server's live event stream for SSE listeners: a job's state changes and output chunks
(`job.event`), a workflow run's node and run changes (`workflow.event`), shared across server processes
through the bus. Each listener has a bounded queue; a slow one loses events and is told how many (it
then re-reads the state), it never slows the gateway. The latest output chunks of recent topics are
kept (bounded) so a listener that comes after the first output still sees it."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict, deque
from typing import Any

from borealis.server.bus import Bus

LISTENER_BUFFER = 512
RECENT_TOPICS = 128  # topics whose latest output is kept, least recently written dropped first
RECENT_CHARS = 64 * 1024  # per topic: the newest chunks up to this many characters


class Listener:
    """One SSE listener's bounded queue of events for one topic, and how many it lost."""

    def __init__(self, topic: str, size: int) -> None:
        self.topic = topic
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.dropped = 0


class EventStream:
    """Events keyed by `key` (a job's or a run's id) on the bus `subject`."""

    def __init__(self, bus: Bus, subject: str, key: str, buffer: int = LISTENER_BUFFER) -> None:
        self.bus = bus
        self.buffer = buffer
        self.subject = subject
        self.key = key
        self.listeners: defaultdict[str, set[Listener]] = defaultdict(set)
        self.dropped_total = 0
        self.recent: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        self.recent_chars: dict[str, int] = {}

    async def start(self) -> None:
        await self.bus.subscribe(self.subject, self._deliver)

    async def publish(self, event: dict[str, Any]) -> None:
        await self.bus.publish(self.subject, event)

    def listen(self, topic: str) -> Listener:
        listener = Listener(topic, self.buffer)
        self.listeners[topic].add(listener)
        return listener

    def recent_output(self, topic: str) -> list[dict[str, Any]]:
        """The topic's latest output events, oldest first. Taken right after `listen` (no await between),
        every later event reaches the listener's queue instead, so none is seen twice or missed."""
        return list(self.recent.get(topic, ()))

    def _remember(self, topic: str, event: dict[str, Any]) -> None:
        chunks = self.recent.get(topic)
        if chunks is None:
            chunks = self.recent[topic] = deque()
            self.recent_chars[topic] = 0
            while len(self.recent) > RECENT_TOPICS:
                oldest, _ = self.recent.popitem(last=False)
                del self.recent_chars[oldest]
        else:
            self.recent.move_to_end(topic)
        chunks.append(event)
        self.recent_chars[topic] += len(str(event.get("chunk", "")))
        while len(chunks) > 1 and self.recent_chars[topic] > RECENT_CHARS:
            self.recent_chars[topic] -= len(str(chunks.popleft().get("chunk", "")))

    def unlisten(self, listener: Listener) -> None:
        listeners = self.listeners.get(listener.topic)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self.listeners[listener.topic]

    async def _deliver(self, event: dict[str, Any]) -> None:
        if event.get("type") == "output":
            self._remember(str(event.get(self.key)), event)
        for listener in self.listeners.get(str(event.get(self.key)), ()):
            try:
                listener.queue.put_nowait(event)
            except asyncio.QueueFull:
                listener.dropped += 1
                self.dropped_total += 1
