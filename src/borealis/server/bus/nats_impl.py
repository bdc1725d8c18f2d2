"""The NATS bus: the same contract as the memory bus, across server processes (core NATS, no JetStream)."""

from __future__ import annotations

import logging
from typing import Any

import nats
import orjson

from borealis.core.errors import TransientError
from borealis.server.bus import Handler

log = logging.getLogger("borealis.bus")
PREFIX = "borealis."


class NatsBus:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client: Any = None

    async def start(self) -> None:
        try:
            self.client = await nats.connect(
                self.url, name="borealis-server", max_reconnect_attempts=-1, connect_timeout=5
            )
        except Exception as exc:
            raise TransientError(f"cannot reach the bus at {self.url}: {exc}") from exc

    async def publish(self, subject: str, message: dict[str, Any]) -> None:
        await self.client.publish(PREFIX + subject, orjson.dumps(message))

    async def subscribe(self, subject: str, handler: Handler) -> None:
        async def deliver(msg: Any) -> None:
            try:
                await handler(orjson.loads(msg.data))
            except Exception:
                log.exception("bus handler failed", extra={"kv": {"subject": subject}})

        await self.client.subscribe(PREFIX + subject, cb=deliver)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.drain()
            self.client = None
