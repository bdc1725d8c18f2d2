"""Liveness, readiness and Prometheus metrics (outside /api/v1, as monitoring systems expect)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.responses import JSONResponse, PlainTextResponse

from borealis.protocol.jobs import JobState
from borealis.server.api.common import MetricsRead
from borealis.server.api.schemas.health import Alive, Ready
from borealis.server.db import migrate
from borealis.server.db.models import Agent, JobResult
from borealis.server.problems import problem
from borealis.server.state import state_of

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Alive)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", response_model=Ready, responses={503: {"description": "not ready (a problem body says why)"}}
)
async def readyz(request: Request) -> JSONResponse:
    state = state_of(request)
    try:
        await state.db.ping()
        current = await migrate.current_revision(state.db)
    except Exception as exc:
        return problem(503, "Not ready", f"database unreachable: {type(exc).__name__}", "not-ready", request)
    head = migrate.head_revision()
    if current != head:
        return problem(503, "Not ready", f"database at {current}, code expects {head}", "not-ready", request)
    if not state.ready:
        return problem(503, "Not ready", "server is starting or stopping", "not-ready", request)
    return JSONResponse({"status": "ready", "database": current})


class PrometheusText(PlainTextResponse):
    media_type = "text/plain; version=0.0.4"


@router.get("/metrics", response_class=PrometheusText)
async def metrics(request: Request, _: MetricsRead) -> PrometheusText:
    state = state_of(request)
    presence = state.presence
    statuses: Counter[str] = Counter()
    async with state.db.session() as session:
        rows = await session.execute(select(Agent.id, Agent.state, Agent.last_seen, Agent.enrolled_at))
        for agent_id, agent_state, last_seen, enrolled_at in rows:
            statuses[presence.status(agent_id, agent_state, last_seen, enrolled_at).value] += 1
        job_rows = dict(
            (await session.execute(select(JobResult.status, func.count()).group_by(JobResult.status))).all()
        )
    waiting = sum(job_rows.get(state_name.value, 0) for state_name in (JobState.QUEUED, JobState.SENT))
    gauges: dict[str, tuple[str, dict[str, float]]] = {
        "borealis_agents_connected": (
            "Agents with an open, fresh connection.",
            {"": float(presence.connected_count())},
        ),
        "borealis_agents": (
            "Agents by status.",
            {f'{{status="{status}"}}': float(count) for status, count in sorted(statuses.items())},
        ),
        "borealis_job_results": (
            "Per-agent job rows by state.",
            {f'{{state="{name.value}"}}': float(job_rows.get(name.value, 0)) for name in JobState},
        ),
        "borealis_job_queue_depth": ("Per-agent job rows waiting for their agent.", {"": float(waiting)}),
    }
    return PrometheusText(state.metrics.render(gauges))
