"""One frame to one agent: through this process's socket when it holds the agent, otherwise through
the bus (`agent.send`) to whichever server process does (presence_sync knows which)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from starlette.websockets import WebSocketDisconnect

from borealis.server.bus import Bus
from borealis.server.presence import Presence

log = logging.getLogger("borealis.server.jobs")
SUBJECT = "agent.send"
SEND_ERRORS = (RuntimeError, OSError, WebSocketDisconnect)


class Delivery:
    def __init__(self, presence: Presence, bus: Bus) -> None:
        self.presence = presence
        self.bus = bus

    async def start(self) -> None:
        await self.bus.subscribe(SUBJECT, self._from_bus)

    def reachable(self, agent_id: str) -> bool:
        return self.presence.sender(agent_id) is not None or self.presence.remote_holds(agent_id)

    async def send(self, agent_id: str, frame: str) -> bool:
        """True when the frame went to the agent's socket here or was handed to its holder."""
        send = self.presence.sender(agent_id)
        if send is not None:
            try:
                await send(frame)
            except SEND_ERRORS:
                return False
            return True
        if self.presence.remote_holds(agent_id):
            await self.bus.publish(SUBJECT, {"agent_id": agent_id, "frame": frame})
            return True
        return False

    async def _from_bus(self, message: dict[str, Any]) -> None:
        send = self.presence.sender(str(message.get("agent_id")))
        frame = message.get("frame")
        if send is not None and isinstance(frame, str):
            with contextlib.suppress(*SEND_ERRORS):
                await send(frame)
