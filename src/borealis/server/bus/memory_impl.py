"""The in-process bus: handlers are called in order of subscription, on the caller's loop."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from borealis.server.bus import Handler

log = logging.getLogger("borealis.bus")


class MemoryBus:
    def __init__(self) -> None:
        self.handlers: defaultdict[str, list[Handler]] = defaultdict(list)

    async def start(self) -> None:
        return None

    async def publish(self, subject: str, message: dict[str, Any]) -> None:
        for handler in list(self.handlers[subject]):
            try:
                await handler(message)
            except Exception:
                log.exception("bus handler failed", extra={"kv": {"subject": subject}})

    async def subscribe(self, subject: str, handler: Handler) -> None:
        self.handlers[subject].append(handler)

    async def close(self) -> None:
        self.handlers.clear()
