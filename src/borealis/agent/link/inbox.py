"""The agent's inbox: every frame the server sends after the welcome, routed by its `MessageType` to
the part of the agent that registered for it (jobs, acks, updates, server roles, live view).

Routing never blocks the connection's read loop: a handler `route`d returns at once; one routed with
`route_task` runs as a task the inbox keeps until `settle` waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from borealis.core.logs import kv
from borealis.protocol.messages import MessageType

Frame = dict[str, Any]
Handler = Callable[[Frame], None]
TaskHandler = Callable[[Frame], Coroutine[Any, Any, None]]

log = logging.getLogger("borealis.agent.link.inbox")


class Inbox:
    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def route(self, kind: MessageType | str, handler: Handler) -> None:
        """Hand frames of type `kind` to `handler`; a later route for the same type replaces it."""
        self._routes[str(kind)] = handler

    def route_task(self, kind: MessageType | str, handler: TaskHandler) -> None:
        """Hand frames of type `kind` to `handler`, each run as a task of its own."""
        self.route(kind, lambda message: self._spawn(handler(message)))

    def received(self, message: Frame) -> None:
        """Called by the connection for every frame after the welcome; never blocks."""
        kind = message.get("t")
        handler = self._routes.get(kind) if isinstance(kind, str) else None
        if handler is None:
            log.debug("ignored message", extra=kv(t=kind))
            return
        handler(message)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the handlers still running (the worker is stopping)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
