"""The agent → server send path for job messages, across reconnects.

Reliable messages (they carry a `msg_id`) are already in the outbox when they get here; `serve`
runs for the life of one connection: it first re-sends everything the outbox still holds, oldest
first, then sends what arrives. A message queued while no connection is up is simply not queued: the
next `serve` finds it in the outbox. Output chunks are best effort: a bounded number wait, the rest
are dropped and counted.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from borealis.agent.outbox import Outbox
from borealis.core import codec
from borealis.core.logs import kv

MAX_QUEUED_OUTPUT = 256

Send = Callable[[str], Awaitable[None]]

log = logging.getLogger("borealis.agent.uplink")


class Uplink:
    def __init__(self, outbox: Outbox, max_queued_output: int = MAX_QUEUED_OUTPUT) -> None:
        self._outbox = outbox
        self._max_output = max_queued_output
        self._queue: collections.deque[tuple[str | None, str]] = collections.deque()
        self._queued_output = 0
        self._wake = asyncio.Event()
        self._connected = False
        self.dropped_output = 0

    @property
    def connected(self) -> bool:
        return self._connected

    def send_reliable(self, message: dict[str, Any]) -> None:
        """Send a message the outbox already holds, if a connection is up (else the next one will)."""
        if self._connected:
            self._queue.append((str(message["msg_id"]), codec.dumps(message)))
            self._wake.set()

    def send_output(self, frame: dict[str, Any]) -> None:
        if not self._connected or self._queued_output >= self._max_output:
            self.dropped_output += 1
            return
        self._queue.append((None, codec.dumps(frame)))
        self._queued_output += 1
        self._wake.set()

    async def acked(self, msg_id: str) -> None:
        await self._outbox.ack(msg_id)

    async def serve(self, send: Send) -> None:
        """Run while one connection is up: re-send the outbox, then send what is queued."""
        self._queue.clear()
        self._queued_output = 0
        self._connected = True
        sent: set[str] = set()
        try:
            backlog = await self._outbox.unacked()
            if backlog:
                log.info("re-sending unacknowledged messages", extra=kv(count=len(backlog)))
            for message in backlog:
                await send(codec.dumps(message))
                sent.add(str(message["msg_id"]))
            while True:
                while self._queue:
                    msg_id, text = self._queue.popleft()
                    if msg_id is None:
                        self._queued_output -= 1
                    elif msg_id in sent:
                        continue  # queued while the backlog was read: already on its way
                    await send(text)
                self._wake.clear()
                await self._wake.wait()
        finally:
            self._connected = False
            self._queue.clear()
            self._queued_output = 0
