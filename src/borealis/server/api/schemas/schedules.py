"""Schedules as the API shows them: the schedule, the record of its slots, the preview."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from borealis.server.api.schemas.common import JsonObject, Page, Schema, Timestamp
from borealis.server.schedules.policy import Misfire, Outcome, Overlap


class JobActionView(Schema):
    type: Literal["job"]
    job: JsonObject


class WorkflowActionView(Schema):
    type: Literal["workflow"]
    workflow_id: str
    input: JsonObject


class ScheduleView(Schema):
    id: str
    name: str
    status: Literal["active", "disabled", "ended"]
    enabled: bool
    cron: str | None
    interval_s: int | None
    timezone: str
    start_at: Timestamp
    end_at: Timestamp | None
    max_runs: int | None
    misfire: Misfire
    grace_s: float
    overlap: Overlap
    action: JobActionView | WorkflowActionView = Field(discriminator="type")
    next_run_at: Timestamp | None
    run_count: int
    ended_reason: str | None
    last_job_id: str | None
    last_workflow_run_id: str | None
    owner: str
    owner_name: str
    version: int
    created_by: str
    created_at: Timestamp
    updated_by: str
    updated_at: Timestamp


class SchedulePage(Page[ScheduleView]):
    pass


class ScheduleRunView(Schema):
    id: int
    slot_at: Timestamp
    slots: int
    outcome: Outcome
    recorded_at: Timestamp
    fired_at: Timestamp | None
    lateness_s: float | None
    job_id: str | None
    workflow_run_id: str | None
    reason: str | None


class ScheduleRunPage(Page[ScheduleRunView]):
    pass


class PreviewSlot(Schema):
    at: Timestamp
    local: Timestamp


class SchedulePreview(Schema):
    timezone: str
    items: list[PreviewSlot]
