"""The fleet's status counts over the last day, for the console's home page chart."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from borealis.server.api.common import AgentsRead
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/fleet", tags=["agents"])


class TrendPoint(BaseModel):
    at: datetime
    online: int
    offline: int
    overdue: int
    pending: int
    revoked: int


class FleetTrendView(BaseModel):
    every_s: float
    samples: list[TrendPoint]


@router.get("/trend")
async def fleet_trend(
    request: Request,
    who: AgentsRead,
    since: Annotated[datetime | None, Query(description="only samples after this time (ISO 8601)")] = None,
) -> FleetTrendView:
    """Counts by status, one sample every `every_s` (5 minutes), the last day, kept in memory."""
    trend = state_of(request).fleet_trend
    return FleetTrendView(
        every_s=trend.every_s,
        samples=[TrendPoint(at=s.at, **s.counts) for s in trend.since(since)],
    )
