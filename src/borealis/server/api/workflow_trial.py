"""Run one node alone (`POST /api/v1/workflows/{id}/nodes/{node_id}/trial`): the node as edited, on
its input in a past run or on pinned data, with the authority a run needs; agent nodes only with
`confirm: true`. Audited as `workflow.node_trial`."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, model_validator

from borealis.core.errors import InvalidInput
from borealis.server import audit
from borealis.server.api.common import WorkflowsWrite, client_ip
from borealis.server.api.schemas.common import Json, Schema
from borealis.server.auth.authority import require_run
from borealis.server.state import state_of
from borealis.server.workflows import store
from borealis.server.workflows import trial as trials
from borealis.server.workflows.views import MAX_INPUT_ITEMS

router = APIRouter(prefix="/api/v1", tags=["workflows"])


class TrialSource(BaseModel):
    from_run: str | None = Field(
        default=None, max_length=64, description="a past run of this workflow: the node's input in it"
    )
    items: list[Any] | None = Field(
        default=None, max_length=MAX_INPUT_ITEMS, description="pinned items for the node's first input port"
    )
    ports: dict[str, list[Any]] | None = Field(
        default=None, max_length=8, description="pinned items by input port (a merge's in1/in2)"
    )

    @model_validator(mode="after")
    def one_source(self) -> TrialSource:
        given = [name for name in ("from_run", "items", "ports") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of from_run, items, ports")
        return self


class NodeTrial(BaseModel):
    node: dict[str, Any] = Field(description="the node as edited (it need not be saved)")
    input: TrialSource
    confirm: bool = Field(default=False, description="needed for agent nodes: they make agents run jobs")


class TrialAttempt(Schema):
    attempt: int
    status: str
    error: str | None
    duration_ms: int


class TrialOutcome(Schema):
    status: Literal["succeeded", "failed", "timed_out"]
    items: dict[str, list[Json]] = Field(description="the node's output per port: each item's json")
    error: str | None
    duration_ms: int
    attempts: list[TrialAttempt]
    input: dict[str, list[Json]] = Field(description="the input it ran on, per port")
    agents: list[dict[str, str]] = Field(default_factory=list, description="agents it ran on (agent nodes)")


@router.post("/workflows/{workflow_id}/nodes/{node_id}/trial", response_model=TrialOutcome)
async def try_node(
    workflow_id: str, node_id: str, body: NodeTrial, request: Request, who: WorkflowsWrite
) -> dict[str, Any]:
    """Runs the node once (with its retries) and answers with its output; nothing is stored as a run.
    A node of category `agents` needs `jobs:run` and `confirm: true` (else 409 naming the agents)."""
    service = state_of(request).workflows
    if body.node.get("id") != node_id:
        raise InvalidInput("node.id must be the node named in the path", field="node.id")
    async with service.db.session() as session:
        await store.get_workflow(session, workflow_id)
    node = await trials.pinned_node(service, body.node)
    source = body.input
    if source.from_run is not None:
        given = await trials.from_run(service, workflow_id, source.from_run, node.id)
    else:
        given = trials.pinned(source.items, source.ports, node, service.registry)
    trial = trials.trial_of(service, workflow_id, node, given, who.actor)
    agents: list[dict[str, str]] = []
    if trials.is_agent_node(service, node):
        require_run(who, f"trying node {node.id!r} ({node.type})")
        agents = await trials.agents_reached(service, trial, given.ports)
        if not body.confirm:
            raise trials.confirmation_needed(node, agents)
    result = await trial.trial(given.ports)
    async with service.db.transaction() as session:
        audit.record(
            session,
            who.actor,
            "workflow.node_trial",
            workflow_id,
            client_ip(request),
            node_id=node.id,
            node_type=node.type,
            input=given.source,
            status=result.status,
            agents=len(agents),
        )
    return {
        "status": result.status,
        "items": _json_of(result.outputs or {}),
        "error": result.error,
        "duration_ms": result.duration_ms,
        "attempts": [
            {"attempt": a.attempt, "status": a.status, "error": a.error, "duration_ms": a.duration_ms}
            for a in result.attempts
        ],
        "input": _json_of(given.ports),
        "agents": agents,
    }


def _json_of(ports: dict[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    return {port: [entry.get("json") for entry in items] for port, items in ports.items()}
