"""Presence: the one definition of online / offline / overdue (DESIGN §7), held in memory.

- online   while the agent's socket is open and its last heartbeat is younger than 2.5 × heartbeat_s;
           a socket that dropped without a close handshake keeps the agent online until that window ends
- offline  at once on a clean close; after the window on a silent drop
- overdue  when nothing was heard for `overdue_after_s`
The database only gets `last_seen`, in batches (`flush_last_seen`), never once per heartbeat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from borealis.core.clock import monotonic, utcnow

Closer = Callable[[int, str], Awaitable[None]]
Sender = Callable[[str], Awaitable[None]]  # one text frame to the agent's socket


class AgentStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    OVERDUE = "overdue"
    PENDING = "pending"
    REVOKED = "revoked"


@dataclass
class Live:
    connected_at: datetime
    last_beat: float  # monotonic
    close: Closer | None  # None once the socket is gone (silent drop, waiting out the window)
    send: Sender | None = None  # set by the gateway; jobs reach the socket through it
    seq: int = 0
    rss_bytes: int = 0
    cpu_pct: float = 0.0


class Presence:
    def __init__(
        self,
        heartbeat_s: float,
        overdue_after_s: float,
        clock: Callable[[], float] = monotonic,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.heartbeat_s = heartbeat_s
        self.window_s = 2.5 * heartbeat_s
        self.overdue_after = timedelta(seconds=overdue_after_s)
        self.clock = clock
        self.wall = wall
        self.live: dict[str, Live] = {}
        self.last_seen: dict[str, datetime] = {}
        self.dirty: set[str] = set()
        # Several server processes (presence_sync): told of local ups and downs, asked about the rest.
        self.listeners: list[Callable[[str, bool], None]] = []
        self.remote_holds: Callable[[str], bool] = lambda _agent_id: False

    def connected(self, agent_id: str, close: Closer) -> Closer | None:
        """Record a new socket; returns the closer of the socket it replaces, if any."""
        previous = self.live.get(agent_id)
        now = self.wall()
        self.live[agent_id] = Live(connected_at=now, last_beat=self.clock(), close=close)
        self._seen(agent_id, now)
        self._tell(agent_id, up=True)
        return previous.close if previous else None

    def heartbeat(self, agent_id: str, seq: int, rss_bytes: int, cpu_pct: float) -> None:
        live = self.live.get(agent_id)
        if live is None:
            return
        live.last_beat = self.clock()
        live.seq, live.rss_bytes, live.cpu_pct = seq, rss_bytes, cpu_pct
        self.last_seen[agent_id] = self.wall()
        self.dirty.add(agent_id)

    def disconnected(self, agent_id: str, close: Closer, clean: bool) -> None:
        live = self.live.get(agent_id)
        if live is None or live.close is not close:
            return  # a newer socket took over
        self._seen(agent_id, self.wall())
        if clean:
            del self.live[agent_id]
            self._tell(agent_id, up=False)
        else:
            live.close = None

    def forget(self, agent_id: str) -> Closer | None:
        live = self.live.pop(agent_id, None)
        self.last_seen.pop(agent_id, None)
        self.dirty.discard(agent_id)
        if live is not None:
            self._tell(agent_id, up=False)
        return live.close if live else None

    def welcomed(self, agent_id: str, close: Closer, send: Sender) -> None:
        """The agent has its `welcome`: from now on frames may go to it (jobs use `sender`)."""
        live = self.live.get(agent_id)
        if live is not None and live.close is close:
            live.send = send

    def sender(self, agent_id: str) -> Sender | None:
        """The send of this process's open socket to the agent, if it holds one."""
        live = self.live.get(agent_id)
        return live.send if live is not None and live.close is not None else None

    def is_online(self, agent_id: str) -> bool:
        live = self.live.get(agent_id)
        if live is not None and self.clock() - live.last_beat < self.window_s:
            return True
        return self.remote_holds(agent_id)

    def status(
        self, agent_id: str, state: str, stored_last_seen: datetime | None, enrolled_at: datetime
    ) -> AgentStatus:
        if state == "revoked":
            return AgentStatus.REVOKED
        if state == "pending":
            return AgentStatus.PENDING
        if self.is_online(agent_id):
            return AgentStatus.ONLINE
        seen = self.seen_at(agent_id, stored_last_seen) or enrolled_at
        return AgentStatus.OVERDUE if self.wall() - seen >= self.overdue_after else AgentStatus.OFFLINE

    def seen_at(self, agent_id: str, stored: datetime | None) -> datetime | None:
        mine = self.last_seen.get(agent_id)
        if mine is None or (stored is not None and stored > mine):
            return stored
        return mine

    def stale(self) -> list[tuple[str, Closer | None]]:
        """Entries whose window has passed: the sweeper closes their sockets and drops them."""
        cutoff = self.clock() - self.window_s
        gone = [(agent_id, live.close) for agent_id, live in self.live.items() if live.last_beat <= cutoff]
        for agent_id, _ in gone:
            del self.live[agent_id]
            self._tell(agent_id, up=False)
        return gone

    def take_dirty(self) -> dict[str, datetime]:
        batch = {agent_id: self.last_seen[agent_id] for agent_id in self.dirty if agent_id in self.last_seen}
        self.dirty.clear()
        return batch

    def connected_count(self) -> int:
        """Agents connected to this process (not those held by other server processes)."""
        cutoff = self.clock() - self.window_s
        return sum(1 for live in self.live.values() if live.last_beat > cutoff)

    def _tell(self, agent_id: str, up: bool) -> None:
        for listener in self.listeners:
            listener(agent_id, up)

    def _seen(self, agent_id: str, at: datetime) -> None:
        self.last_seen[agent_id] = at
        self.dirty.add(agent_id)
