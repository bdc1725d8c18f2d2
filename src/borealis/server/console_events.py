"""The operators' event stream hub: agent up/down/changed, job state and workflow run events, fanned out
to each open console with a bounded queue; every event carries the scope a reader needs to see it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from borealis.core.clock import utcnow
from borealis.server.auth.scopes import Scope, grants
from borealis.server.bus import Bus
from borealis.server.jobs.events import SUBJECT as JOB_SUBJECT
from borealis.server.presence import Presence
from borealis.server.workflows.events import EVENT_SUBJECT as RUN_EVENT_SUBJECT

log = logging.getLogger("borealis.server.console_events")

AGENT_SUBJECT = "agent.event"
CLIENT_BUFFER = 1024
MAX_CLIENTS = 256

# The scope a reader needs for each kind of event.
KIND_SCOPES: dict[str, Scope] = {
    "agent": Scope.AGENTS_READ,
    "job": Scope.JOBS_READ,
    "run": Scope.WORKFLOWS_READ,
}


@dataclass(eq=False)
class ConsoleClient:
    """One open stream: its scopes, its bounded queue, and whether it fell behind (then it is dropped)."""

    scopes: frozenset[Scope]
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(CLIENT_BUFFER))
    overflowed: bool = False

    def may_see(self, kind: str) -> bool:
        scope = KIND_SCOPES.get(kind)
        return scope is not None and grants(self.scopes, scope)


class ConsoleEvents:
    def __init__(self, bus: Bus, presence: Presence, buffer: int = CLIENT_BUFFER) -> None:
        self.bus = bus
        self.presence = presence
        self.buffer = buffer
        self.clients: set[ConsoleClient] = set()
        self.dropped_clients = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.bus.subscribe(AGENT_SUBJECT, self._on_agent)
        await self.bus.subscribe(JOB_SUBJECT, self._on_job)
        await self.bus.subscribe(RUN_EVENT_SUBJECT, self._on_run)
        self.presence.listeners.append(self._on_presence)

    async def stop(self) -> None:
        if self._on_presence in self.presence.listeners:
            self.presence.listeners.remove(self._on_presence)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def open(self, scopes: frozenset[Scope]) -> ConsoleClient:
        client = ConsoleClient(scopes, asyncio.Queue(self.buffer))
        self.clients.add(client)
        return client

    def close(self, client: ConsoleClient) -> None:
        self.clients.discard(client)

    async def agent_changed(self, agent_id: str, change: str, **fields: Any) -> None:
        """An API route changed an agent (tags, revoke, approve, delete…): tell every process's consoles."""
        await self.bus.publish(
            AGENT_SUBJECT, {"agent_id": agent_id, "change": change, "at": utcnow().isoformat(), **fields}
        )

    def _on_presence(self, agent_id: str, up: bool) -> None:
        # Presence calls listeners synchronously; the bus publish is async, so it runs as a task we keep.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self.agent_changed(agent_id, "up" if up else "down"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_agent(self, message: dict[str, Any]) -> None:
        change = str(message.get("change", "changed"))
        if change in ("up", "down"):
            # The stream says what a console shows: the agent's status as presence now sees it.
            message = {**message, "status": "online" if change == "up" else "offline"}
        self._fan_out("agent", message)

    async def _on_job(self, message: dict[str, Any]) -> None:
        if message.get("type") == "state":  # output chunks stay on the job's own stream
            self._fan_out("job", message)

    async def _on_run(self, message: dict[str, Any]) -> None:
        self._fan_out("run", message)

    def _fan_out(self, kind: str, message: dict[str, Any]) -> None:
        event = {"kind": kind, **message}
        for client in list(self.clients):
            if client.overflowed or not client.may_see(kind):
                continue
            try:
                client.queue.put_nowait(event)
            except asyncio.QueueFull:
                client.overflowed = True  # the stream ends it with a final event; the console reconnects
                self.dropped_clients += 1
                log.warning("console event reader too slow; dropped")
