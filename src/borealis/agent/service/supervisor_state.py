"""The supervisor's record in `<home>/Agent/state/supervisor.json`: its pid, the worker's, and restarts.

Restarts are counted forever and the last `MAX_RESTARTS_KEPT` are kept with their reasons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from borealis.core import codec
from borealis.core.errors import InvalidInput
from borealis.core.home import Home, ensure_dir, write_atomic

SUPERVISOR_FILE = "supervisor.json"
MAX_RESTARTS_KEPT = 20


class RestartReason(StrEnum):
    EXITED = "exited"  # the worker ended by itself with exit code 0
    CRASHED = "crashed"  # non-zero exit code or killed by a signal
    HANG = "hang"  # no internal heartbeat for hang_timeout_s
    MEMORY = "memory"  # RSS over memory_budget_mb
    UPDATE = (
        "update"  # switched to a new agent version, or rolled back from one (agent/self_update/switch.py)
    )


@dataclass(frozen=True)
class Restart:
    at: str
    reason: RestartReason
    detail: str
    worker_pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "reason": self.reason.value}


@dataclass
class SupervisorRecord:
    pid: int
    started_at: str
    state: str = "running"
    worker_pid: int | None = None
    worker_started_at: str | None = None
    restarts: int = 0
    last_restarts: list[Restart] = field(default_factory=list)

    def add_restart(self, restart: Restart) -> None:
        self.restarts += 1
        self.last_restarts = [*self.last_restarts, restart][-MAX_RESTARTS_KEPT:]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_restarts"] = [r.to_json() for r in self.last_restarts]
        return data

    @classmethod
    def from_json(cls, data: Any) -> SupervisorRecord | None:
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        try:
            values = {k: v for k, v in data.items() if k in known}
            values["last_restarts"] = [
                Restart(
                    at=str(r["at"]),
                    reason=RestartReason(r["reason"]),
                    detail=str(r.get("detail", "")),
                    worker_pid=r.get("worker_pid"),
                )
                for r in values.get("last_restarts", [])
            ]
            return cls(**values)
        except (TypeError, ValueError, KeyError):
            return None


def supervisor_path(home: Home) -> Path:
    return home.agent_state / SUPERVISOR_FILE


def write_record(path: Path, record: SupervisorRecord) -> None:
    ensure_dir(path.parent)
    write_atomic(path, codec.dumps_bytes(record.to_json()), mode=0o644)


def read_record(home: Home) -> SupervisorRecord | None:
    try:
        return SupervisorRecord.from_json(codec.loads(supervisor_path(home).read_bytes()))
    except (OSError, InvalidInput):
        return None
