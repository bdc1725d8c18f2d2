"""How schedules and their slot records look in the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from borealis.core.clock import iso
from borealis.server.db.models import Schedule, ScheduleRun
from borealis.server.schedules import actions


def slot_view(slot: datetime, zone: ZoneInfo) -> dict[str, str]:
    """One upcoming slot, in UTC and as the wall-clock time of the schedule's zone."""
    return {"at": slot.isoformat().replace("+00:00", "Z"), "local": slot.astimezone(zone).isoformat()}


def status_of(row: Schedule) -> str:
    if not row.enabled:
        return "disabled"
    return "ended" if row.next_run_at is None else "active"


def schedule_view(row: Schedule) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "status": status_of(row),
        "enabled": row.enabled,
        "cron": row.cron,
        "interval_s": row.interval_s,
        "timezone": row.timezone,
        "start_at": iso(row.anchor_at),
        "end_at": iso(row.end_at),
        "max_runs": row.max_runs,
        "misfire": row.misfire,
        "grace_s": row.grace_s,
        "overlap": row.overlap,
        "action": row.action,
        "next_run_at": iso(row.next_run_at),
        "run_count": row.run_count,
        "ended_reason": row.ended_reason,
        "last_job_id": row.last_ref if row.last_ref_kind == actions.JOB else None,
        "last_workflow_run_id": row.last_ref if row.last_ref_kind == actions.WORKFLOW else None,
        "owner": row.owner,
        "owner_name": row.owner_name,
        "version": row.version,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "updated_by": row.updated_by,
        "updated_at": iso(row.updated_at),
    }


def run_view(run: ScheduleRun) -> dict[str, Any]:
    lateness = (run.fired_at - run.slot_at).total_seconds() if run.fired_at is not None else None
    return {
        "id": run.id,
        "slot_at": iso(run.slot_at),
        "slots": run.slots,
        "outcome": run.outcome,
        "recorded_at": iso(run.recorded_at),
        "fired_at": iso(run.fired_at),
        "lateness_s": lateness,
        "job_id": run.job_id,
        "workflow_run_id": run.workflow_run_id,
        "reason": run.reason,
    }
