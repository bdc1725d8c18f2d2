"""The worker's connection state in `<home>/Agent/state/status.json`, rewritten atomically on change.

The worker publishes through `StatusPublisher`, which coalesces changes and writes in a thread, so
the event loop never waits for the disk. `agent status` reads the file with `read_status`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from borealis.agent.clock import utc_now_iso
from borealis.core import codec
from borealis.core.errors import InvalidInput
from borealis.core.home import Home, ensure_dir, write_atomic
from borealis.core.logs import kv

STATUS_FILE = "status.json"

log = logging.getLogger("borealis.agent.service.status")


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(frozen=True)
class WorkerStatus:
    pid: int
    agent_id: str
    server_url: str
    state: ConnectionState = ConnectionState.CONNECTING
    connected_since: str | None = None
    last_change: str | None = None
    last_close_code: int | None = None
    last_close_reason: str | None = None
    last_error: str | None = None
    jobs_running: int = 0
    outbox_pending: int = 0
    outbox_dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: Any) -> WorkerStatus | None:
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        try:
            values = {k: v for k, v in data.items() if k in known}
            values["state"] = ConnectionState(values.get("state", "disconnected"))
            return cls(**values)
        except (TypeError, ValueError):
            return None


def status_path(home: Home) -> Path:
    return home.agent_state / STATUS_FILE


def write_status(path: Path, status: WorkerStatus) -> None:
    ensure_dir(path.parent)
    write_atomic(path, codec.dumps_bytes(status.to_json()), mode=0o644)


def read_status(home: Home) -> WorkerStatus | None:
    """The last state the worker wrote, or None when there is no readable file."""
    try:
        return WorkerStatus.from_json(codec.loads(status_path(home).read_bytes()))
    except (OSError, InvalidInput):
        return None


class StatusPublisher:
    """Holds the current status; `set()` is instant, a background task writes the latest snapshot."""

    def __init__(self, path: Path, initial: WorkerStatus) -> None:
        self._path = path
        self._status = replace(initial, last_change=initial.last_change or utc_now_iso())
        self._dirty = asyncio.Event()

    @property
    def current(self) -> WorkerStatus:
        return self._status

    def set(self, **changes: Any) -> None:
        updated = replace(self._status, **changes)
        if updated == self._status:
            return
        self._status = replace(updated, last_change=utc_now_iso())
        self._dirty.set()

    async def run(self) -> None:
        """Write each new snapshot (coalescing bursts) until cancelled."""
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            snapshot = self._status
            try:
                await asyncio.to_thread(write_status, self._path, snapshot)
            except OSError as exc:
                log.warning("cannot write the status file", extra=kv(path=self._path, error=exc))

    def write_now(self) -> None:
        """Synchronous write, for the first and the last state (before and after the loop runs)."""
        try:
            write_status(self._path, self._status)
        except OSError as exc:
            log.warning("cannot write the status file", extra=kv(path=self._path, error=exc))
