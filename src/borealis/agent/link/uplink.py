"""The agent → server send path for job messages, across reconnects.

Reliable messages (they carry a `msg_id`) are already in the outbox when they get here; `serve`
runs for the life of one connection: it first re-sends everything the outbox still holds, oldest
first, then sends what arrives; a message still unacknowledged `resend_after_s` after it went out is
sent again on the same connection (the server may have failed to store it while staying connected). A message queued while no connection is up is simply not queued: the
next `serve` finds it in the outbox. Output chunks are best effort: a bounded number wait, the rest
are dropped and counted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from borealis.agent.link.outbox import Outbox
from borealis.core import codec
from borealis.core.logs import kv

MAX_QUEUED_OUTPUT = 256
MAX_QUEUED_LIVE = 2  # live-view frames waiting for the socket (each up to ~850 KiB of JSON)
LIVE = ""  # the queue's mark for a live-view frame (neither output nor a reliable message)
RESEND_AFTER_S = 60.0

Send = Callable[[str], Awaitable[None]]

log = logging.getLogger("borealis.agent.link.uplink")


class Uplink:
    def __init__(
        self,
        outbox: Outbox,
        max_queued_output: int = MAX_QUEUED_OUTPUT,
        resend_after_s: float = RESEND_AFTER_S,
    ) -> None:
        self._outbox = outbox
        self._max_output = max_queued_output
        self._resend_after_s = resend_after_s
        self._queue: collections.deque[tuple[str | None, str]] = collections.deque()
        self._queued_output = 0
        self._queued_live = 0
        self.dropped_live = 0
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

    def send_live(self, frame: dict[str, Any]) -> bool:
        """A live-view frame, if fewer than `MAX_QUEUED_LIVE` wait; False when it was dropped."""
        if not self._connected or self._queued_live >= MAX_QUEUED_LIVE:
            self.dropped_live += 1
            return False
        self._queue.append((LIVE, codec.dumps(frame)))
        self._queued_live += 1
        self._wake.set()
        return True

    async def acked(self, msg_id: str) -> None:
        await self._outbox.ack(msg_id)

    async def on_ack(self, frame: dict[str, Any]) -> None:
        """An `ack` frame from the server: that message need not be sent again."""
        if isinstance(frame.get("msg_id"), str):
            await self.acked(frame["msg_id"])

    async def serve(self, send: Send) -> None:
        """Run while one connection is up: re-send the outbox, then send what is queued."""
        self._queue.clear()
        self._queued_output = 0
        self._queued_live = 0
        self._connected = True
        sent_at: dict[str, float] = {}  # msg_id -> when it last went out on this connection
        loop = asyncio.get_running_loop()
        try:
            backlog = await self._outbox.unacked()
            if backlog:
                log.info("re-sending unacknowledged messages", extra=kv(count=len(backlog)))
            for message in backlog:
                await send(codec.dumps(message))
                sent_at[str(message["msg_id"])] = loop.time()
            # On a clock of its own, not after a quiet spell: a connection that always has something
            # to send would otherwise never re-send, nor forget the acknowledged ids in `sent_at`.
            next_check = loop.time() + self._resend_after_s
            while True:
                while self._queue:
                    msg_id, text = self._queue.popleft()
                    if msg_id is None:
                        self._queued_output -= 1
                    elif msg_id == LIVE:
                        self._queued_live -= 1
                    elif msg_id in sent_at:
                        continue  # queued while the backlog was read: already on its way
                    else:
                        sent_at[msg_id] = loop.time()
                    await send(text)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, next_check - loop.time()))
                if loop.time() >= next_check:
                    await self._resend_overdue(send, sent_at, loop.time())
                    next_check = loop.time() + self._resend_after_s
        finally:
            self._connected = False
            self._queue.clear()
            self._queued_output = 0
            self._queued_live = 0

    async def _resend_overdue(self, send: Send, sent_at: dict[str, float], now: float) -> None:
        unacked = await self._outbox.unacked()
        waiting = {str(message["msg_id"]) for message in unacked}
        for msg_id in [m for m in sent_at if m not in waiting]:
            del sent_at[msg_id]  # acknowledged meanwhile
        overdue = [m for m in unacked if now - sent_at.get(str(m["msg_id"]), now) >= self._resend_after_s]
        if overdue:
            log.warning("re-sending messages the server has not acknowledged", extra=kv(count=len(overdue)))
        for message in overdue:
            await send(codec.dumps(message))
            sent_at[str(message["msg_id"])] = now
