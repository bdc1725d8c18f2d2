"""Presence shared between server processes through the bus (DESIGN §7, §12), for `nats://` mode.

Each process announces the agents it holds (`presence.up` / `presence.down`) and beacons its own
liveness (`presence.beacon`) every heartbeat; a process that starts asks the others for a snapshot
(`presence.hello` → `presence.snapshot`). An agent held elsewhere counts as online while its holder's
beacon is fresh, so a crashed process takes its agents offline within the same 2.5 × heartbeat window
as a silent drop. Heartbeats themselves never cross the bus.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from borealis.core.clock import monotonic
from borealis.core.logs import kv
from borealis.server.bus import Bus
from borealis.server.presence import Presence

log = logging.getLogger("borealis.server.presence_sync")


class PresenceSync:
    def __init__(self, presence: Presence, bus: Bus, clock: Callable[[], float] = monotonic) -> None:
        self.presence = presence
        self.bus = bus
        self.clock = clock
        self.server_id = os.urandom(8).hex()
        self.remote: dict[str, str] = {}  # agent id -> id of the server process holding it
        self.beacons: dict[str, float] = {}  # server id -> when its last beacon arrived
        self.pending: set[asyncio.Task[None]] = set()
        self.beacon_task: asyncio.Task[None] | None = None

    def holds_elsewhere(self, agent_id: str) -> bool:
        holder = self.remote.get(agent_id)
        if holder is None:
            return False
        return self.clock() - self.beacons.get(holder, float("-inf")) < self.presence.window_s

    async def start(self) -> None:
        handlers = {
            "presence.up": self._on_up,
            "presence.down": self._on_down,
            "presence.beacon": self._on_beacon,
            "presence.hello": self._on_hello,
            "presence.snapshot": self._on_snapshot,
            "presence.bye": self._on_bye,
        }
        for subject, handler in handlers.items():
            await self.bus.subscribe(subject, handler)
        self.presence.listeners.append(self._local_change)
        self.presence.remote_holds = self.holds_elsewhere
        await self.bus.publish("presence.hello", {"server": self.server_id})
        self.beacon_task = asyncio.create_task(self._beacon_loop())

    async def stop(self) -> None:
        if self.beacon_task is not None:
            self.beacon_task.cancel()
            await asyncio.gather(self.beacon_task, return_exceptions=True)
        await asyncio.gather(*self.pending, return_exceptions=True)
        await self.bus.publish("presence.bye", {"server": self.server_id})

    def _local_change(self, agent_id: str, up: bool) -> None:
        subject = "presence.up" if up else "presence.down"
        task = asyncio.create_task(
            self.bus.publish(subject, {"server": self.server_id, "agent_id": agent_id})
        )
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _beacon_loop(self) -> None:
        while True:
            try:
                await self.bus.publish("presence.beacon", {"server": self.server_id})
            except Exception:
                log.warning("presence beacon failed", exc_info=True)
            await asyncio.sleep(self.presence.heartbeat_s)

    def _foreign(self, message: dict[str, Any]) -> str | None:
        server = message.get("server")
        if not isinstance(server, str) or server == self.server_id:
            return None
        self.beacons[server] = self.clock()
        return server

    async def _on_up(self, message: dict[str, Any]) -> None:
        server = self._foreign(message)
        if server is not None:
            agent_id = str(message.get("agent_id"))
            self.remote[agent_id] = server
            # The agent moved away from this process; a stale local entry must not linger.
            live = self.presence.live.get(agent_id)
            if live is not None and live.close is None:
                del self.presence.live[agent_id]

    async def _on_down(self, message: dict[str, Any]) -> None:
        server = self._foreign(message)
        agent_id = str(message.get("agent_id"))
        if server is not None and self.remote.get(agent_id) == server:
            del self.remote[agent_id]

    async def _on_beacon(self, message: dict[str, Any]) -> None:
        self._foreign(message)

    async def _on_hello(self, message: dict[str, Any]) -> None:
        if self._foreign(message) is None:
            return
        held = [agent_id for agent_id, live in self.presence.live.items() if live.close is not None]
        await self.bus.publish("presence.snapshot", {"server": self.server_id, "agents": held})

    async def _on_snapshot(self, message: dict[str, Any]) -> None:
        server = self._foreign(message)
        agents = message.get("agents")
        if server is not None and isinstance(agents, list):
            for agent_id in agents:
                self.remote.setdefault(str(agent_id), server)

    async def _on_bye(self, message: dict[str, Any]) -> None:
        server = self._foreign(message)
        if server is not None:
            self.beacons.pop(server, None)
            for agent_id in [a for a, holder in self.remote.items() if holder == server]:
                del self.remote[agent_id]
            log.info("server process left", extra=kv(server=server))
