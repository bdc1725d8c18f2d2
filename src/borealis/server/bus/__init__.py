"""The bus: small messages between server parts, in one process (`memory://`) or across several (`nats://`).

Subjects used today:
    agent.close   {agent_id, code, reason}   close this agent's socket wherever it is held (revocation)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Bus(Protocol):
    async def start(self) -> None: ...

    async def publish(self, subject: str, message: dict[str, Any]) -> None: ...

    async def subscribe(self, subject: str, handler: Handler) -> None: ...

    async def close(self) -> None: ...


def open_bus(url: str) -> Bus:
    from borealis.core.errors import ConfigError

    if url in ("", "memory://"):
        from borealis.server.bus.memory_impl import MemoryBus

        return MemoryBus()
    if url.startswith(("nats://", "tls://")):
        from borealis.server.bus.nats_impl import NatsBus

        return NatsBus(url)
    raise ConfigError(f"unsupported bus URL {url!r} (use memory:// or nats://host:4222)")
