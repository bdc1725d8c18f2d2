"""Jobs as the API shows them: a summary status from the per-agent counts, and the rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from borealis.core.clock import iso
from borealis.protocol.jobs import JobState
from borealis.server.db.models import Job, JobResult


def summary_status(counts: Counter[str], cancelled: bool) -> str:
    """queued | running while rows are unfinished; then succeeded, cancelled, expired or failed."""
    total = sum(counts.values())
    unfinished = counts[JobState.QUEUED] + counts[JobState.SENT] + counts[JobState.RUNNING]
    if unfinished:
        return "queued" if counts[JobState.QUEUED] == unfinished else "running"
    if total and counts[JobState.SUCCEEDED] == total:
        return JobState.SUCCEEDED.value
    if cancelled:
        return JobState.CANCELLED.value
    if total and counts[JobState.EXPIRED] == total:
        return JobState.EXPIRED.value
    return JobState.FAILED.value


def job_view(job: Job, counts: Counter[str]) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": summary_status(counts, job.cancelled_at is not None),
        "counts": {state.value: counts[state.value] for state in JobState},
        "role": job.role,
        "params": job.params,
        "run_as": job.run_as,
        "target": job.target,
        "timeout_s": job.timeout_s,
        "expires_at": iso(job.expires_at),
        "created_by": job.created_by,
        "created_at": iso(job.created_at),
        "cancelled_at": iso(job.cancelled_at),
        "agent_count": job.agent_count,
        "batch_size": job.batch_size or None,
        "current_batch": job.current_batch,
        "stop_on_failure": job.stop_on_failure,
        "script_id": job.script_id,
        "script_version": job.script_version,
    }


def result_view(row: JobResult) -> dict[str, Any]:
    return {
        "agent_id": row.agent_id,
        "status": row.status,
        "exit_code": row.exit_code,
        "stdout": row.stdout,
        "stderr": row.stderr,
        "flags": row.flags,
        "error": row.error,
        "data": row.data,
        "batch": row.batch,
        "sent_at": iso(row.sent_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
    }
