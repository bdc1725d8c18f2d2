"""What one server process holds while it runs, shared by the API routes and the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from borealis.core.settings import ServerSettings
from borealis.server.agent_keys import AgentKeys
from borealis.server.agent_updates.service import AgentUpdates
from borealis.server.auth.hash_gate import HashGate
from borealis.server.auth.throttle import LoginThrottle
from borealis.server.bus import Bus
from borealis.server.console_events import ConsoleEvents
from borealis.server.db.database import Database
from borealis.server.fleet_trend import FleetTrend
from borealis.server.heartbeats import HeartbeatHistory
from borealis.server.inventory.service import InventoryService
from borealis.server.jobs.service import JobService
from borealis.server.live_view import LiveViews
from borealis.server.metrics import Metrics
from borealis.server.presence import Presence
from borealis.server.role_modules.service import RoleModules
from borealis.server.schedules.service import ScheduleService
from borealis.server.screenshots.store import ScreenshotStore
from borealis.server.workflows.service import WorkflowService


@dataclass
class ServerState:
    settings: ServerSettings
    db: Database
    key: Ed25519PrivateKey
    presence: Presence
    bus: Bus
    agent_keys: AgentKeys
    jobs: JobService
    inventory: InventoryService
    schedules: ScheduleService
    role_modules: RoleModules
    workflows: WorkflowService
    updates: AgentUpdates
    console_events: ConsoleEvents
    fleet_trend: FleetTrend
    screenshots: ScreenshotStore
    live_views: LiveViews
    heartbeats: HeartbeatHistory = field(default_factory=HeartbeatHistory)
    metrics: Metrics = field(default_factory=Metrics)
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    login_gate: HashGate = field(default_factory=HashGate)
    enroll_throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle(what="refused enrollments"))
    ready: bool = False


def app_state(app: Starlette) -> ServerState:
    """The state `create_app` put on the app."""
    state: ServerState = app.state.borealis
    return state


def state_of(conn: HTTPConnection) -> ServerState:
    return app_state(conn.app)
