"""Builds the FastAPI application: routes, the agent gateway, error handling, and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import WebSocketRoute

from borealis import __version__
from borealis.core.home import ensure_dir
from borealis.core.settings import ServerSettings
from borealis.protocol.agent_updates import MAX_WHEEL_BYTES
from borealis.protocol.messages import AGENT_WS_PATH, CloseCode
from borealis.server import problems
from borealis.server.agent_keys import AgentKeys
from borealis.server.agent_updates.service import AgentUpdates
from borealis.server.api import (
    actors,
    agent_metrics,
    agent_versions,
    agents,
    audit_log,
    auth,
    enroll,
    enrollments,
    events,
    fleet_trend,
    health,
    hooks,
    inventory,
    jobs,
    live_view,
    roles,
    runs,
    schedules,
    screenshots,
    scripts,
    tokens,
    users,
    workflow_preview,
    workflow_summaries,
    workflow_trial,
    workflows,
)
from borealis.server.api import openapi as api_document
from borealis.server.api_docs import install_docs
from borealis.server.bus import open_bus
from borealis.server.console import install_console
from borealis.server.console_events import ConsoleEvents
from borealis.server.db import migrate
from borealis.server.db.database import Database
from borealis.server.fleet_trend import FleetTrend
from borealis.server.gateway import AgentGateway
from borealis.server.heartbeats import HeartbeatHistory
from borealis.server.housekeeping import Housekeeping
from borealis.server.inventory.service import InventoryService
from borealis.server.jobs.service import JobService
from borealis.server.json_guard import JsonGuard
from borealis.server.keys import server_key
from borealis.server.limits import BodyLimit
from borealis.server.live_view import LiveViews
from borealis.server.presence import Presence
from borealis.server.presence_sync import PresenceSync
from borealis.server.role_modules.service import RoleModules
from borealis.server.schedules.service import ScheduleService
from borealis.server.schedules.starter import EngineStarter
from borealis.server.screenshots.store import ScreenshotStore
from borealis.server.state import ServerState, app_state
from borealis.server.workflows.run_replay import RunReplay
from borealis.server.workflows.service import WorkflowService

log = logging.getLogger("borealis.server")
OPENAPI_PATH = "/api/v1/openapi.json"


def build_state(settings: ServerSettings) -> ServerState:
    ensure_dir(settings.home.server)
    db = Database(settings.database_url)
    key = server_key(settings.home)
    presence = Presence(settings.heartbeat_s, settings.overdue_after_s)
    bus = open_bus(settings.bus_url)
    jobs_service = JobService(settings, db, key, presence, bus)
    agent_keys = AgentKeys(db)
    return ServerState(
        settings=settings,
        db=db,
        key=key,
        presence=presence,
        bus=bus,
        agent_keys=agent_keys,
        jobs=jobs_service,
        inventory=InventoryService(settings, db, jobs_service),
        schedules=ScheduleService(settings, db, jobs_service),
        role_modules=RoleModules(db, key, presence, bus, jobs_service.roles),
        workflows=WorkflowService(settings, db, jobs_service, bus),
        updates=AgentUpdates.build(settings, db, key, jobs_service.delivery, agent_keys),
        console_events=ConsoleEvents(bus, presence),
        fleet_trend=FleetTrend(db, presence),
        heartbeats=HeartbeatHistory.for_heartbeat(settings.heartbeat_s),
        live_views=LiveViews(
            db, presence, idle_s=settings.live_view_idle_s, max_fps=settings.live_view_max_fps
        ),
        screenshots=ScreenshotStore(
            settings.home.blobs, db, jobs_service.holders, settings.screenshot_retention_days
        ),
    )


async def _on_agent_close(state: ServerState, message: dict[str, Any]) -> None:
    state.agent_keys.forget(str(message.get("agent_id")))
    state.heartbeats.forget(str(message.get("agent_id")))  # revoked, denied or deleted: no chart left
    close = state.presence.forget(str(message.get("agent_id")))
    if close is not None:
        await close(int(message.get("code", CloseCode.POLICY)), str(message.get("reason", ""))[:120])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state = app_state(app)
    await migrate.upgrade(state.db)
    await state.agent_keys.load()
    await state.bus.start()

    async def on_close(message: dict[str, Any]) -> None:
        await _on_agent_close(state, message)

    await state.bus.subscribe("agent.close", on_close)
    sync = PresenceSync(state.presence, state.bus) if state.settings.bus_url.startswith("nats") else None
    if sync is not None:
        await sync.start()
    await state.console_events.start()
    await state.jobs.start()
    await state.role_modules.start()
    await state.workflows.start()
    await RunReplay().start(state.bus)
    state.schedules.starter = EngineStarter(state.workflows)
    await state.updates.start()
    state.inventory.start()
    housekeeping = Housekeeping(state)
    housekeeping.start()
    state.fleet_trend.start()
    state.schedules.start()
    state.ready = True
    log.info("server ready", extra={"kv": {"url": state.settings.base_url}})
    try:
        yield
    finally:
        state.ready = False
        await state.live_views.stop_all()
        await state.schedules.stop()
        await state.fleet_trend.stop()
        await housekeeping.stop()
        await state.inventory.stop()
        await state.workflows.stop()
        await state.role_modules.stop()
        await state.updates.stop()
        await state.jobs.stop()
        await state.console_events.stop()
        for agent_id in list(state.presence.live):
            close = state.presence.live[agent_id].close
            if close is not None:
                await close(CloseCode.GOING_AWAY, "server stopping")
        if sync is not None:
            await sync.stop()
        await state.bus.close()
        await state.db.close()
        log.info("server stopped")


def create_app(settings: ServerSettings) -> FastAPI:
    app = FastAPI(
        title="Borealis",
        version=__version__,
        lifespan=lifespan,
        openapi_url=OPENAPI_PATH,
        docs_url=None,  # ours, with its assets from the package (api_docs), not from a CDN
        redoc_url=None,
    )
    app.state.borealis = build_state(settings)
    problems.install(app)
    for module in (
        health,
        auth,
        users,
        tokens,
        audit_log,
        actors,
        enrollments,
        enroll,
        agents,
        agent_metrics,
        events,
        fleet_trend,
        jobs,
        scripts,
        inventory,
        roles,
        schedules,
        agent_versions,
        workflows,
        workflow_preview,
        workflow_summaries,
        workflow_trial,
        runs,
        hooks,
        screenshots,
        live_view,
    ):
        app.include_router(module.router)
    api_document.install(app)
    app.router.routes.append(WebSocketRoute(AGENT_WS_PATH, AgentGateway))
    app.add_middleware(JsonGuard)  # inside BodyLimit, so the bodies it reads whole are bounded
    if settings.api_docs:
        install_docs(app, OPENAPI_PATH)
    install_console(app)
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_request_bytes, larger={agent_versions.UPLOAD_PATH: MAX_WHEEL_BYTES}
    )
    return app
