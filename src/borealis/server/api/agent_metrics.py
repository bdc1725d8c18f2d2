"""One agent's recent heartbeat figures (CPU %, resident memory) for the console's device charts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from borealis.server.agents import get_agent
from borealis.server.api.common import AgentsRead
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


class MetricSample(BaseModel):
    at: datetime
    cpu_pct: float
    rss_bytes: int


class AgentMetrics(BaseModel):
    agent_id: str
    every_s: float
    samples: list[MetricSample]


@router.get("/{agent_id}/metrics")
async def agent_metrics(
    agent_id: str,
    request: Request,
    who: AgentsRead,
    since: Annotated[datetime | None, Query(description="only samples after this time (ISO 8601)")] = None,
) -> AgentMetrics:
    """Samples kept in memory by this server process: one per `every_s`, the last four hours by default."""
    state = state_of(request)
    async with state.db.session() as session:
        agent = await get_agent(session, agent_id)
    samples = state.heartbeats.since(agent.id, since)
    return AgentMetrics(
        agent_id=agent.id,
        every_s=state.heartbeats.every_s,
        samples=[MetricSample(at=s.at, cpu_pct=s.cpu_pct, rss_bytes=s.rss_bytes) for s in samples],
    )
