"""Jobs: submit to agents, tags or all; list; one job with its per-agent rows; cancel; live events (SSE)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.responses import StreamingResponse

from borealis.protocol.jobs import JobState, RunAs
from borealis.server.api.common import EVENT_STREAM, JobsRead, JobsRun, Limit, client_ip
from borealis.server.api.schemas.jobs import JobDetail, JobPage, JobView, SubmittedJob
from borealis.server.auth.authority import require_run
from borealis.server.db.models import Job
from borealis.server.jobs import store
from borealis.server.jobs.spec import JobSpec
from borealis.server.jobs.stream import job_events
from borealis.server.jobs.views import job_view, result_view
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
MAX_TARGET_AGENTS = 100_000


class Target(BaseModel):
    agents: list[str] | None = Field(default=None, max_length=MAX_TARGET_AGENTS)
    tags: list[str] | None = Field(default=None, max_length=64)
    all: bool | None = None


class OperatorSignature(BaseModel):
    """An operator's co-signature over the job's content (protocol/cosign.py)."""

    key: str = Field(min_length=1, max_length=64)
    nonce: str = Field(min_length=16, max_length=64)
    not_after: int = Field(gt=0, lt=2**40)
    signature: str = Field(min_length=1, max_length=128)
    repeat_s: int | None = Field(default=None, gt=0, le=366 * 86400)  # repeatable (schedules)


class NewJob(BaseModel):
    role: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    run_as: RunAs = RunAs.SYSTEM
    target: Target
    timeout_s: float = Field(default=300.0, gt=0, le=7 * 86400)
    expires_in_s: float = Field(default=3600.0, gt=0, le=30 * 86400)
    batch_size: int | None = Field(default=None, ge=1, le=MAX_TARGET_AGENTS)
    batch_percent: int | None = Field(default=None, ge=1, le=100)
    stop_on_failure: bool = False
    operator_signature: OperatorSignature | None = None


@router.post("", status_code=201, response_model=SubmittedJob)
async def submit_job(body: NewJob, request: Request, who: JobsRun) -> dict[str, Any]:
    require_run(who, "a job")  # the one rule schedules and workflows are held to as well
    spec = JobSpec(
        role=body.role,
        params=body.params,
        run_as=body.run_as,
        timeout_s=body.timeout_s,
        expires_in_s=body.expires_in_s,
        batch_size=body.batch_size,
        batch_percent=body.batch_percent,
        stop_on_failure=body.stop_on_failure,
        cosign=body.operator_signature.model_dump(exclude_none=True) if body.operator_signature else None,
    )
    target = body.target.model_dump(exclude_none=True)
    return await state_of(request).jobs.submit(spec, target, who.actor, client_ip(request))


@router.get("", response_model=JobPage)
async def list_jobs(
    request: Request,
    who: JobsRead,
    limit: Limit = 50,
    cursor: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if cursor:
        query = query.where(Job.id < cursor)
    async with state_of(request).db.session() as session:
        jobs = list((await session.scalars(query)).all())
        counts = await store.counts(session, [job.id for job in jobs])
    items = [job_view(job, counts[job.id]) for job in jobs]
    return {"items": items, "next_cursor": jobs[-1].id if len(jobs) == limit else None}


@router.get("/{job_id}", response_model=JobDetail)
async def one_job(
    job_id: str, request: Request, who: JobsRead, status: JobState | None = None
) -> dict[str, Any]:
    """The job with its rows (only those in `status`, when given); `counts` always covers every row."""
    async with state_of(request).db.session() as session:
        job = await store.get_job(session, job_id)
        rows = await store.results(session, job_id, status.value if status else None)
        counts = (await store.counts(session, [job_id]))[job_id]
    return {**job_view(job, counts), "results": [result_view(row) for row in rows]}


@router.post("/{job_id}/cancel", response_model=JobView)
async def cancel_job(job_id: str, request: Request, who: JobsRun) -> dict[str, Any]:
    return await state_of(request).jobs.cancel(job_id, who.actor, client_ip(request))


@router.get("/{job_id}/events", response_class=StreamingResponse, responses=EVENT_STREAM)
async def job_event_stream(job_id: str, request: Request, who: JobsRead) -> StreamingResponse:
    state = state_of(request)
    async with state.db.session() as session:
        await store.get_job(session, job_id)  # a 404 before the stream starts
    return StreamingResponse(
        job_events(state.jobs, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
