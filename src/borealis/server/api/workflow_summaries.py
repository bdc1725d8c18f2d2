"""The workflows list of the console: each workflow with its triggers, the schedules that start it and
their next time, its last run and how many runs it had (by status) — one request for the whole page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import func, select

from borealis.server.api.common import Limit, WorkflowsRead
from borealis.server.db.models import Schedule
from borealis.server.state import state_of
from borealis.server.workflows.models import Workflow, WorkflowRun

router = APIRouter(prefix="/api/v1", tags=["workflows"])


class TriggerView(BaseModel):
    node_id: str
    type: str
    interval_s: float | None = None
    url: str | None = None


class ScheduleLink(BaseModel):
    id: str
    name: str
    enabled: bool
    next_run_at: datetime | None


class LastRun(BaseModel):
    id: str
    status: str
    created_at: datetime


class WorkflowSummary(BaseModel):
    id: str
    name: str
    description: str
    version: int
    enabled: bool
    updated_at: datetime
    triggers: list[TriggerView]
    schedules: list[ScheduleLink]
    last_run: LastRun | None
    runs: dict[str, int]


class WorkflowSummaries(BaseModel):
    items: list[WorkflowSummary]
    next_cursor: str | None


def _triggers(document: dict[str, Any]) -> list[TriggerView]:
    found: list[TriggerView] = []
    for node in document.get("nodes", []):
        kind = str(node.get("type", ""))
        if not kind.startswith("trigger."):
            continue
        params = node.get("params") or {}
        found.append(
            TriggerView(
                node_id=str(node.get("id")),
                type=kind,
                interval_s=params.get("interval_s", 300) if kind == "trigger.poll" else None,
                url=params.get("url")
                if kind == "trigger.poll" and isinstance(params.get("url"), str)
                else None,
            )
        )
    return found


@router.get("/workflow-summaries")
async def workflow_summaries(
    request: Request,
    who: WorkflowsRead,
    limit: Limit = 200,
    cursor: str | None = Query(default=None, max_length=64),
) -> WorkflowSummaries:
    """Workflows by id, with their triggers, schedules, last run and run counts by status."""
    async with state_of(request).db.session() as session:
        query = select(Workflow).order_by(Workflow.id).limit(limit)
        if cursor:
            query = query.where(Workflow.id > cursor)
        workflows = list(await session.scalars(query))
        ids = [w.id for w in workflows]
        counts: dict[str, dict[str, int]] = {i: {} for i in ids}
        last: dict[str, LastRun] = {}
        if ids:
            rows = await session.execute(
                select(WorkflowRun.workflow_id, WorkflowRun.status, func.count())
                .where(WorkflowRun.workflow_id.in_(ids))
                .group_by(WorkflowRun.workflow_id, WorkflowRun.status)
            )
            for workflow_id, status, count in rows:
                counts[workflow_id][status] = int(count)
            newest = (
                select(WorkflowRun.workflow_id, func.max(WorkflowRun.created_at).label("at"))
                .where(WorkflowRun.workflow_id.in_(ids))
                .group_by(WorkflowRun.workflow_id)
                .subquery()
            )
            latest = await session.execute(
                select(
                    WorkflowRun.workflow_id, WorkflowRun.id, WorkflowRun.status, WorkflowRun.created_at
                ).join(
                    newest,
                    (WorkflowRun.workflow_id == newest.c.workflow_id)
                    & (WorkflowRun.created_at == newest.c.at),
                )
            )
            for workflow_id, run_id, status, created_at in latest:
                last[workflow_id] = LastRun(id=run_id, status=status, created_at=created_at)
        schedules: dict[str, list[ScheduleLink]] = {i: [] for i in ids}
        for schedule in await session.scalars(select(Schedule)):
            target = str((schedule.action or {}).get("workflow_id", ""))
            if target in schedules:
                schedules[target].append(
                    ScheduleLink(
                        id=schedule.id,
                        name=schedule.name,
                        enabled=schedule.enabled,
                        next_run_at=schedule.next_run_at,
                    )
                )
    items = [
        WorkflowSummary(
            id=w.id,
            name=w.name,
            description=w.description,
            version=w.version,
            enabled=w.enabled,
            updated_at=w.updated_at,
            triggers=_triggers(w.document),
            schedules=schedules[w.id],
            last_run=last.get(w.id),
            runs={**counts[w.id], "total": sum(counts[w.id].values())},
        )
        for w in workflows
    ]
    return WorkflowSummaries(items=items, next_cursor=ids[-1] if len(ids) == limit else None)
