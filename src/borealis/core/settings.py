"""Typed settings of the server and the agent, read from their TOML files with CLI overrides."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from borealis.core.errors import ConfigError
from borealis.core.home import Home, ensure_dir, write_atomic
from borealis.core.logs import LogPolicy

T = TypeVar("T")


@dataclass(frozen=True)
class ServerSettings:
    home: Home
    host: str = "127.0.0.1"
    port: int = 5000
    db_url: str = ""
    bus_url: str = "memory://"
    public_url: str = ""
    heartbeat_s: float = 30.0
    overdue_after_s: float = 1800.0
    last_seen_flush_s: float = 120.0
    sweep_interval_s: float = 0.0
    max_request_bytes: int = 1024 * 1024
    ws_max_bytes: int = 1024 * 1024
    max_header_bytes: int = 32 * 1024  # a request's line and headers together; more is answered 431
    max_headers: int = 100  # header fields per request
    trusted_proxies: list[str] = field(default_factory=list)  # addresses/networks whose X-Forwarded-* count
    api_docs: bool = True  # the Swagger UI page at /api/v1/docs (its files come from the package)
    session_ttl_s: float = 12 * 3600.0
    tls: bool = False  # serve HTTPS with a self-signed certificate made in Server/keys
    tls_cert: str = ""  # or with your own certificate and key (PEM files)
    tls_key: str = ""
    max_output_bytes: int = 1024 * 1024  # stored per stream of a job result; the tail is kept
    max_script_bytes: int = 256 * 1024
    job_sweep_s: float = 1.0  # how often queued rows past their job's expiry become `expired`
    job_sent_grace_s: float = 30.0  # a `sent` row expires this long after its job, so an accept can land
    scheduler_tick_s: float = 1.0  # the scheduler looks at its table at least this often
    max_schedules: int = 10_000
    schedule_runs_days: float = 90.0  # slot records of schedules older than this are pruned
    schedule_runs_per_schedule: int = 1000  # and beyond this many per schedule, the oldest go
    schedule_prune_s: float = 3600.0  # how often the scheduler prunes them
    inventory_history_days: float = 180.0  # inventory changes older than this are pruned
    inventory_history_per_agent: int = 10_000  # and beyond this many per agent, the oldest go
    inventory_prune_s: float = 3600.0  # how often housekeeping prunes them
    workflow_http_allow: list[str] = field(default_factory=list)  # networks HTTP nodes may reach
    workflow_run_days: float = 30.0  # final workflow runs older than this are pruned
    workflow_runs_per_workflow: int = 1000  # and beyond this many per workflow
    live_view_idle_s: float = 120.0  # a live view ends when its viewer sent no keep-alive for this long
    live_view_max_fps: int = 10  # the most frames a second a live view may ask for
    screenshot_retention_days: float = 30.0  # stored screenshot images older than this are deleted
    smtp: dict[str, Any] = field(default_factory=dict)  # host, port, from, starttls, username, password
    log: LogPolicy = field(default_factory=LogPolicy)

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite+aiosqlite:///{self.home.server_db}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls or self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def presence_window_s(self) -> float:
        return 2.5 * self.heartbeat_s

    @property
    def sweep_every_s(self) -> float:
        return self.sweep_interval_s or max(0.2, min(5.0, self.heartbeat_s / 4))


@dataclass(frozen=True)
class AgentSettings:
    home: Home
    server_url: str = ""
    startup_delay_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    stable_after_s: float = 60.0
    memory_budget_mb: float = 200.0
    hang_timeout_s: float = 60.0
    internal_heartbeat_s: float = 5.0
    restart_backoff_cap_s: float = 60.0
    stop_timeout_s: float = 10.0
    allowed_roles: list[str] = field(default_factory=list)
    max_jobs: int = 16
    roles_scan_s: float = 30.0  # drop-ins are also re-checked before every job; this keeps roles_health fresh
    outbox_max_messages: int = 10000
    outbox_max_bytes: int = 16 * 1024 * 1024
    helper_user: str = ""  # run_as: user jobs go to this user when no one is logged in
    live_view: bool = True  # operators with desktop:view may watch the user's screen (docs/screen.md)
    remote_control: bool = False  # operators with desktop:control may drive its mouse and keyboard
    screen_notice: bool = False  # show the user a notice while someone views or controls the screen
    helper_display: str = ""  # the X display of that configured session (a kiosk), e.g. ":0"
    helper_spawn: bool = True  # start a helper in each login session (False: only autostarted ones)
    helper_socket: str = ""  # where helpers connect; default: derived from the home (docs/agent.md)
    sessions_scan_s: float = 10.0
    inventory_enabled: bool = True  # the schedule; the inventory and updates roles work either way
    inventory_first_after_s: float = 120.0  # the first full collection, 50–100 % of this after start
    inventory_every_s: dict[str, float] = field(default_factory=dict)  # per section; 0: not scheduled
    inventory_budget_s: dict[str, float] = field(default_factory=dict)  # per section time budgets
    inventory_resend_after_s: float = 24 * 3600.0  # an unchanged section is sent again after this
    apt_options: list[str] = field(default_factory=list)  # extra apt-get arguments, e.g. ["-o", "Dir::…"]
    update_confirm_s: float = 120.0  # a new agent version must connect within this, or it is rolled back
    log: LogPolicy = field(default_factory=LogPolicy)


def _from_table(cls: type[T], home: Home, table: dict[str, Any], source: Path) -> T:
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "log" and isinstance(value, dict):
            try:
                values["log"] = LogPolicy(**value)
            except TypeError as exc:
                raise ConfigError(f"{source}: [log]: {exc}") from exc
            continue
        if key not in known or key == "home":
            raise ConfigError(f"{source}: unknown setting {key!r}")
        values[key] = value
    try:
        return cls(home=home, **values)  # type: ignore[call-arg]
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def load_server_settings(home: Home, **overrides: Any) -> ServerSettings:
    settings = _from_table(ServerSettings, home, _read_toml(home.server_toml), home.server_toml)
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def load_agent_settings(home: Home, **overrides: Any) -> AgentSettings:
    settings = _from_table(AgentSettings, home, _read_toml(home.agent_toml), home.agent_toml)
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def update_toml(path: Path, **values: Any) -> None:
    """Merge `values` into a TOML file (created if missing), keeping what else it holds."""
    table = _read_toml(path)
    table.update(values)
    ensure_dir(path.parent)
    write_atomic(path, tomli_w.dumps(table).encode(), mode=0o600)
