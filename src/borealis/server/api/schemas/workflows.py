"""Workflows as the API shows them: the workflow, its versions, runs with node records, the catalog."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from borealis.server.api.schemas.common import Json, JsonObject, Page, Schema, Timestamp

RunStatus = Literal["queued", "running", "succeeded", "failed", "timed_out", "cancelled", "interrupted"]


class WorkflowSummary(Schema):
    id: str
    name: str
    description: str
    version: int
    enabled: bool
    owner: str
    owner_name: str
    created_by: str
    created_at: Timestamp
    updated_by: str
    updated_at: Timestamp


class WorkflowView(WorkflowSummary):
    """`document` is the workflow graph (DESIGN §11); `hooks` (node id → secret URL) appears only in
    the answer to a save that created webhook secrets, the one time they are shown."""

    document: JsonObject
    hooks: dict[str, str] | None = None


class WorkflowPage(Page[WorkflowSummary]):
    pass


class WorkflowVersionEntry(Schema):
    version: int
    created_by: str
    created_at: Timestamp


class WorkflowVersionPage(Page[WorkflowVersionEntry]):
    pass


class HookRotated(Schema):
    node_id: str
    url: str


class RunView(Schema):
    id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    trigger: JsonObject
    input: Json
    output: Json
    error: str | None
    created_by: str
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


class NodeRecord(Schema):
    id: int
    node_id: str
    node_type: str
    attempt: int
    status: str
    input: Json
    output: Json
    error: str | None
    started_at: Timestamp
    finished_at: Timestamp
    duration_ms: int


class RunDetail(RunView):
    nodes: list[NodeRecord]


class RunPage(Page[RunView]):
    pass


class NodeTypeView(Schema):
    type: str
    version: int
    category: str
    title: str
    doc: str
    inputs: list[str]
    outputs: list[str]
    error_port: str
    schema_: JsonObject = Field(alias="schema", description="the parameters' JSON Schema")


class NodeTypePage(Page[NodeTypeView]):
    pass


class HookAccepted(Schema):
    """A webhook's answer: 202 while the run is queued or unfinished; 200 with its output when the
    hook answers synchronously and the run ended in time."""

    run_id: str
    status: RunStatus
    output: list[Json] | None = None
    error: str | None = None
