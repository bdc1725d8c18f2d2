"""Jobs and the script library as the API shows them."""

from __future__ import annotations

from typing import Literal

from borealis.protocol.jobs import JobState, RunAs
from borealis.server.api.schemas.common import Json, JsonObject, Page, Schema, Timestamp

JobSummaryStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "expired"]


class JobCounts(Schema):
    """How many of the job's per-agent rows are in each state (every state is present)."""

    queued: int
    sent: int
    running: int
    succeeded: int
    failed: int
    timed_out: int
    cancelled: int
    expired: int
    interrupted: int


class JobView(Schema):
    id: str
    status: JobSummaryStatus
    counts: JobCounts
    role: str
    params: JsonObject
    run_as: RunAs
    target: JsonObject
    timeout_s: float
    expires_at: Timestamp
    created_by: str
    created_at: Timestamp
    cancelled_at: Timestamp | None
    agent_count: int
    batch_size: int | None
    current_batch: int
    stop_on_failure: bool
    script_id: str | None
    script_version: int | None


class SubmittedJob(JobView):
    skipped: list[str]


class JobResultView(Schema):
    agent_id: str
    status: JobState
    exit_code: int | None
    stdout: str
    stderr: str
    flags: list[str]
    error: str | None
    data: Json
    batch: int
    sent_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None


class JobDetail(JobView):
    results: list[JobResultView]


class JobPage(Page[JobView]):
    pass


class ScriptSummary(Schema):
    id: str
    name: str
    description: str
    language: str
    parameters: JsonObject
    version: int
    created_by: str
    created_at: Timestamp
    updated_by: str
    updated_at: Timestamp


class ScriptView(ScriptSummary):
    body: str
    sha256: str


class ScriptPage(Page[ScriptSummary]):
    pass


class ScriptVersionView(Schema):
    id: str
    name: str
    description: str
    language: str
    parameters: JsonObject
    body: str
    sha256: str
    version: int
    latest_version: int
    created_by: str
    created_at: Timestamp


class ScriptVersionEntry(Schema):
    version: int
    language: str
    created_by: str
    created_at: Timestamp


class ScriptVersionPage(Page[ScriptVersionEntry]):
    pass
