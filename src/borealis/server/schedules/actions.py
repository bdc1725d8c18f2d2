"""What a schedule runs: a job (the body of `POST /api/v1/jobs`, submitted through the job service as
the schedule's owner) or a workflow run (through the `WorkflowStarter`), and whether the last one is
still going."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import iso
from borealis.core.errors import BorealisError, Conflict
from borealis.protocol.jobs import RunAs
from borealis.server.jobs.service import JobService
from borealis.server.jobs.spec import JobSpec
from borealis.server.schedules import store
from borealis.server.schedules.starter import WorkflowStarter

JOB = "job"
WORKFLOW = "workflow"
NO_WORKFLOWS = "workflows are not available on this server"


def job_request(job: dict[str, Any]) -> tuple[JobSpec, dict[str, Any]]:
    """The stored job body as the job service takes it: a spec and a target."""
    spec = JobSpec(
        role=str(job["role"]),
        params=dict(job.get("params") or {}),
        run_as=RunAs(job.get("run_as", RunAs.SYSTEM.value)),
        timeout_s=float(job.get("timeout_s", 300.0)),
        expires_in_s=float(job.get("expires_in_s", 3600.0)),
        batch_size=job.get("batch_size"),
        batch_percent=job.get("batch_percent"),
        stop_on_failure=bool(job.get("stop_on_failure", False)),
        cosign=job.get("operator_signature"),
    )
    return spec, dict(job["target"])


async def fire(
    action: dict[str, Any],
    jobs: JobService,
    starter: WorkflowStarter | None,
    owner: str,
    trigger: dict[str, Any],
) -> tuple[str, str]:
    """Submit the action; returns (kind, job id or workflow run id). Raises a BorealisError when the
    action cannot run now (its detail is recorded with the slot)."""
    if action["type"] == JOB:
        spec, target = job_request(action["job"])
        submitted = await jobs.submit(spec, target, owner, None)
        return JOB, str(submitted["id"])
    if starter is None:
        raise Conflict(NO_WORKFLOWS)
    run_id = await starter.start_run(
        str(action["workflow_id"]), dict(action.get("input") or {}), trigger, owner
    )
    return WORKFLOW, run_id


def trigger_of(schedule_id: str, slot_at: datetime, fired_at: datetime) -> dict[str, Any]:
    return {
        "type": "schedule",
        "schedule_id": schedule_id,
        "slot_at": iso(slot_at),
        "fired_at": iso(fired_at),
    }


async def still_running(
    session: AsyncSession, kind: str | None, ref: str | None, starter: WorkflowStarter | None
) -> bool:
    if not ref:
        return False
    if kind == JOB:
        return await store.job_unfinished(session, ref)
    if kind == WORKFLOW and starter is not None:
        try:
            return await starter.is_running(ref)
        except BorealisError:  # the run is gone (pruned, its workflow deleted): not running
            return False
    return False
