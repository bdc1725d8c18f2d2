"""The NATS bus: the same contract as the memory bus, across server processes (core NATS, no JetStream).

Once connected the client reconnects forever; the first connection gets `connect_timeout_s` in all, so
a server pointed at a wrong bus URL stops with a clear error instead of retrying silently at start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats
import orjson

from borealis.core.errors import TransientError
from borealis.core.logs import kv
from borealis.server.bus import Handler

log = logging.getLogger("borealis.bus")
PREFIX = "borealis."


class NatsBus:
    def __init__(self, url: str, connect_timeout_s: float = 10.0) -> None:
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self.client: Any = None
        self.failing = False

    async def start(self) -> None:
        try:
            self.client = await asyncio.wait_for(
                nats.connect(
                    self.url,
                    name="borealis-server",
                    max_reconnect_attempts=-1,
                    connect_timeout=min(5.0, self.connect_timeout_s),
                    reconnect_time_wait=1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                ),
                self.connect_timeout_s,
            )
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            raise TransientError(f"cannot reach the bus at {self.url}: {reason}") from exc
        self.failing = False

    async def publish(self, subject: str, message: dict[str, Any]) -> None:
        await self.client.publish(PREFIX + subject, orjson.dumps(message))

    async def subscribe(self, subject: str, handler: Handler) -> None:
        async def deliver(msg: Any) -> None:
            try:
                await handler(orjson.loads(msg.data))
            except Exception:
                log.exception("bus handler failed", extra={"kv": {"subject": subject}})

        await self.client.subscribe(PREFIX + subject, cb=deliver)
        await self.client.flush()  # the server knows the subscription before this returns

    async def close(self) -> None:
        if self.client is not None:
            await self.client.drain()
            self.client = None

    # The client's callbacks: one line when the state changes, not a traceback per retry.
    async def _on_error(self, exc: Exception) -> None:
        if not self.failing:
            log.warning("bus error", extra=kv(error=str(exc) or type(exc).__name__))
        self.failing = True

    async def _on_disconnected(self) -> None:
        if not self.failing:
            log.warning("bus disconnected; reconnecting")
        self.failing = True

    async def _on_reconnected(self) -> None:
        log.info("bus reconnected")
        self.failing = False
