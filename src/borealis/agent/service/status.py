"""`borealis agent status`: what the home says about the agent, checked against live processes.

The state files can outlive their processes (a SIGKILL leaves "connected" behind), so every pid is
checked before anything is reported as running or connected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from borealis.agent.clock import parse_utc
from borealis.agent.identity import load_identity
from borealis.agent.resources import agent_process_alive, rss_of
from borealis.agent.service.status_file import ConnectionState, read_status
from borealis.agent.service.supervisor_state import read_record
from borealis.core.home import Home
from borealis.core.settings import load_agent_settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class AgentReport:
    enrolled: bool
    agent_id: str
    server_url: str
    enrolled_at: str
    running: bool = False
    supervisor_pid: int | None = None
    supervisor_started_at: str | None = None
    worker_running: bool = False
    worker_pid: int | None = None
    worker_started_at: str | None = None
    worker_rss_bytes: int | None = None
    state: str = ConnectionState.STOPPED.value
    connected: bool = False
    connected_since: str | None = None
    last_change: str | None = None
    last_close_code: int | None = None
    last_close_reason: str | None = None
    last_error: str | None = None
    restarts: int = 0
    last_restarts: list[dict[str, Any]] = field(default_factory=list)
    jobs_running: int = 0
    outbox_pending: int = 0
    outbox_dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def gather(home: Home) -> AgentReport:
    """Raises ConfigError ("not enrolled …") when the home holds no agent identity."""
    identity = load_identity(home)
    server_url = load_agent_settings(home).server_url.rstrip("/") or identity.server_url
    record = read_record(home)
    status = read_status(home)
    supervisor_alive = record is not None and record.state != "stopped" and agent_process_alive(record.pid)
    worker_pid = status.pid if status is not None else None
    worker_alive = (
        status is not None and status.state != ConnectionState.STOPPED and agent_process_alive(worker_pid)
    )
    state = status.state.value if status is not None and worker_alive else ConnectionState.STOPPED.value
    connected = worker_alive and state == ConnectionState.CONNECTED.value
    return AgentReport(
        enrolled=True,
        agent_id=identity.agent_id,
        server_url=server_url,
        enrolled_at=identity.enrolled_at,
        running=supervisor_alive,
        supervisor_pid=record.pid if record is not None and supervisor_alive else None,
        supervisor_started_at=record.started_at if record is not None and supervisor_alive else None,
        worker_running=worker_alive,
        worker_pid=worker_pid if worker_alive else None,
        worker_started_at=(
            record.worker_started_at
            if record is not None and worker_alive and record.worker_pid == worker_pid
            else None
        ),
        worker_rss_bytes=rss_of(worker_pid) if worker_alive and worker_pid else None,
        state=state,
        connected=connected,
        connected_since=status.connected_since if status is not None and connected else None,
        last_change=status.last_change if status is not None else None,
        last_close_code=status.last_close_code if status is not None else None,
        last_close_reason=status.last_close_reason if status is not None else None,
        last_error=status.last_error if status is not None else None,
        restarts=record.restarts if record is not None else 0,
        last_restarts=[r.to_json() for r in record.last_restarts] if record is not None else [],
        jobs_running=status.jobs_running if status is not None and worker_alive else 0,
        outbox_pending=status.outbox_pending if status is not None else 0,
        outbox_dropped=status.outbox_dropped if status is not None else 0,
    )


def not_enrolled_json() -> dict[str, Any]:
    return {
        "enrolled": False,
        "agent_id": None,
        "server_url": None,
        "running": False,
        "connected": False,
        "connected_since": None,
        "state": None,
        "restarts": 0,
    }


def render(report: AgentReport, now: datetime | None = None) -> str:
    """The human form: one aligned line per fact."""
    now = now or datetime.now(UTC)
    lines = [
        ("agent", report.agent_id),
        ("server", report.server_url),
        ("enrolled", report.enrolled_at),
        ("supervisor", _supervisor_line(report, now)),
        ("worker", _worker_line(report, now)),
        ("connection", _connection_line(report, now)),
        ("jobs", _jobs_line(report)),
        ("restarts", str(report.restarts)),
    ]
    for restart in report.last_restarts[-5:][::-1]:
        lines.append(("", f"{restart['at']}  {restart['reason']}: {restart['detail']}"))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {value}".rstrip() for label, value in lines)


def _supervisor_line(report: AgentReport, now: datetime) -> str:
    if not report.running:
        return "not running"
    return f"running (pid {report.supervisor_pid}{_uptime(report.supervisor_started_at, now)})"


def _worker_line(report: AgentReport, now: datetime) -> str:
    if not report.worker_running:
        return "not running"
    rss = f", RSS {report.worker_rss_bytes / MIB:.1f} MiB" if report.worker_rss_bytes else ""
    return f"running (pid {report.worker_pid}{_uptime(report.worker_started_at, now)}{rss})"


def _uptime(started_at: str | None, now: datetime) -> str:
    started = parse_utc(started_at)
    return f", up {_age(now - started)}" if started is not None else ""


def _jobs_line(report: AgentReport) -> str:
    text = f"{report.jobs_running} running; outbox: {report.outbox_pending} waiting for the server's ack"
    if report.outbox_dropped:
        text += f", {report.outbox_dropped} dropped (outbox full)"
    return text


def _connection_line(report: AgentReport, now: datetime) -> str:
    if report.connected:
        since = parse_utc(report.connected_since)
        age = f" ({_age(now - since)} ago)" if since is not None else ""
        return f"connected since {report.connected_since}{age}"
    text = report.state
    if report.last_error and report.last_close_code is not None:
        text += f"; last close {report.last_close_code}: {report.last_error}"
    elif report.last_error:
        text += f"; last error: {report.last_error}"
    return text


def _age(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
