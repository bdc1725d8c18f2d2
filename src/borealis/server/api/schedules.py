"""Schedules: create, list, read, replace (naming a stale `version` is a 409), delete, enable, disable,
the record of their slots, and a preview of the next fire times (of a schedule, or of a timing not saved
yet, for the console's cron helper).

A schedule runs a job (`action: {type: job, job: <the body of POST /api/v1/jobs>}`) or a workflow
(`action: {type: workflow, workflow_id, input}`); setting a job action also needs `jobs:run`, a
workflow action `workflows:write` (and `jobs:run` when the workflow has agent steps). Enabling needs
the same: whoever lets a schedule run becomes its owner.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from borealis.core.clock import utcnow
from borealis.core.errors import Forbidden, InvalidInput, PayloadTooLarge
from borealis.server.api.common import Limit, SchedulesRead, SchedulesWrite, client_ip
from borealis.server.api.jobs import NewJob
from borealis.server.api.schemas.schedules import SchedulePage, SchedulePreview, ScheduleRunPage, ScheduleView
from borealis.server.auth.authority import require_run
from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import Scope
from borealis.server.schedules.cron import MAX_EXPRESSION_CHARS
from borealis.server.schedules.policy import Misfire, Overlap
from borealis.server.schedules.service import MAX_PREVIEW, Draft, ScheduleService
from borealis.server.schedules.timing import MAX_INTERVAL_S, MAX_ZONE_CHARS, MIN_INTERVAL_S, Timing
from borealis.server.schedules.views import slot_view
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])
MAX_INPUT_BYTES = 64 * 1024
MAX_GRACE_S = 86400.0
ScheduleId = Annotated[str, Path(min_length=1, max_length=64)]


class JobAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["job"]
    job: NewJob


class WorkflowAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["workflow"]
    workflow_id: str = Field(min_length=1, max_length=64)
    input: dict[str, Any] = Field(default_factory=dict)


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    cron: str | None = Field(default=None, min_length=1, max_length=MAX_EXPRESSION_CHARS)
    interval_s: int | None = Field(default=None, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)
    timezone: str = Field(default="UTC", min_length=1, max_length=MAX_ZONE_CHARS)
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    max_runs: int | None = Field(default=None, ge=1, le=2**31 - 1)
    misfire: Misfire = Misfire.SKIP
    grace_s: float = Field(default=60.0, ge=0, le=MAX_GRACE_S)
    overlap: Overlap = Overlap.ALLOW
    enabled: bool = True
    action: JobAction | WorkflowAction = Field(discriminator="type")


class TimingDraft(BaseModel):
    """The timing fields of a schedule, to see its next slots before saving it."""

    model_config = ConfigDict(extra="forbid")
    cron: str | None = Field(default=None, min_length=1, max_length=MAX_EXPRESSION_CHARS)
    interval_s: int | None = Field(default=None, ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)
    timezone: str = Field(default="UTC", min_length=1, max_length=MAX_ZONE_CHARS)
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    count: int = Field(default=10, ge=1, le=MAX_PREVIEW)
    after: AwareDatetime | None = Field(default=None, description="from this instant (default: now)")


class ScheduleChange(ScheduleBody):
    version: int = Field(ge=1, le=2**31 - 1, description="the version this change was made from")


async def _may_set(request: Request, action: dict[str, Any], who: Principal) -> None:
    """The scopes it takes to make this action run (checked on save and enable)."""
    if action["type"] == "job":
        require_run(who, "a schedule that runs a job")
        return
    if not who.may(Scope.WORKFLOWS_WRITE):
        raise Forbidden("a schedule that runs a workflow needs the workflows:write scope")
    steps = await state_of(request).workflows.agent_steps(str(action["workflow_id"]))
    if steps:
        require_run(who, f"a schedule of a workflow with agent steps ({', '.join(steps[:5])})")


async def _draft(request: Request, body: ScheduleBody, who: Principal) -> Draft:
    if body.start_at is not None and body.end_at is not None and body.end_at <= body.start_at:
        raise InvalidInput("end_at must be after start_at", field="end_at")
    action: dict[str, Any]
    if isinstance(body.action, JobAction):
        action = {"type": "job", "job": body.action.job.model_dump(mode="json", exclude_none=True)}
    else:
        if len(orjson.dumps(body.action.input)) > MAX_INPUT_BYTES:
            raise PayloadTooLarge(f"input is over {MAX_INPUT_BYTES} bytes", field="action.input")
        action = {"type": "workflow", "workflow_id": body.action.workflow_id, "input": body.action.input}
    await _may_set(request, action, who)
    return Draft(
        name=body.name,
        cron=body.cron,
        interval_s=body.interval_s,
        timezone=body.timezone,
        start_at=body.start_at,
        end_at=body.end_at,
        max_runs=body.max_runs,
        misfire=body.misfire,
        grace_s=body.grace_s,
        overlap=body.overlap,
        action=action,
        enabled=body.enabled,
    )


def _service(request: Request) -> ScheduleService:
    return state_of(request).schedules


@router.post("", status_code=201, response_model=ScheduleView)
async def create_schedule(body: ScheduleBody, request: Request, who: SchedulesWrite) -> dict[str, Any]:
    draft = await _draft(request, body, who)
    return await _service(request).create(draft, who.actor, client_ip(request))


@router.post("/preview", response_model=SchedulePreview)
async def preview_timing(body: TimingDraft, who: SchedulesRead) -> dict[str, Any]:
    """The next `count` slots of a timing that is not saved (a new schedule's anchor is now)."""
    now = utcnow()
    timing = Timing.build(body.cron, body.interval_s, body.timezone, body.start_at or now, body.end_at)
    slots = timing.upcoming(body.after or now, body.count)
    return {"timezone": body.timezone, "items": [slot_view(slot, timing.zone) for slot in slots]}


@router.get("", response_model=SchedulePage)
async def list_schedules(
    request: Request,
    who: SchedulesRead,
    limit: Limit = 100,
    cursor: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    return await _service(request).page(limit, cursor)


@router.get("/{schedule_id}", response_model=ScheduleView)
async def one_schedule(schedule_id: ScheduleId, request: Request, who: SchedulesRead) -> dict[str, Any]:
    return await _service(request).one(schedule_id)


@router.put("/{schedule_id}", response_model=ScheduleView)
async def replace_schedule(
    schedule_id: ScheduleId, body: ScheduleChange, request: Request, who: SchedulesWrite
) -> dict[str, Any]:
    draft = await _draft(request, body, who)
    return await _service(request).replace(schedule_id, body.version, draft, who.actor, client_ip(request))


@router.delete("/{schedule_id}", status_code=204)
async def delete_schedule(schedule_id: ScheduleId, request: Request, who: SchedulesWrite) -> None:
    await _service(request).delete(schedule_id, who.actor, client_ip(request))


@router.post("/{schedule_id}/enable", response_model=ScheduleView)
async def enable_schedule(schedule_id: ScheduleId, request: Request, who: SchedulesWrite) -> dict[str, Any]:
    await _may_set(request, (await _service(request).one(schedule_id))["action"], who)
    return await _service(request).set_enabled(schedule_id, True, who.actor, client_ip(request))


@router.post("/{schedule_id}/disable", response_model=ScheduleView)
async def disable_schedule(schedule_id: ScheduleId, request: Request, who: SchedulesWrite) -> dict[str, Any]:
    return await _service(request).set_enabled(schedule_id, False, who.actor, client_ip(request))


@router.get("/{schedule_id}/runs", response_model=ScheduleRunPage)
async def schedule_runs(
    schedule_id: ScheduleId,
    request: Request,
    who: SchedulesRead,
    limit: Limit = 100,
    cursor: int | None = Query(default=None, ge=1, le=2**31 - 1),  # ids are 32-bit on PostgreSQL
) -> dict[str, Any]:
    return await _service(request).runs(schedule_id, limit, cursor)


@router.get("/{schedule_id}/preview", response_model=SchedulePreview)
async def preview_schedule(
    schedule_id: ScheduleId,
    request: Request,
    who: SchedulesRead,
    count: int = Query(default=10, ge=1, le=MAX_PREVIEW),
    after: Annotated[AwareDatetime | None, Query(description="from this instant (default: now)")] = None,
) -> dict[str, Any]:
    return await _service(request).preview(schedule_id, count, after)
