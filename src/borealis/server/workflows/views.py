"""What the API shows of workflow rows (workflows, runs, node records), and a run's input read as items."""

from __future__ import annotations

from typing import Any

from borealis.core.clock import iso
from borealis.core.errors import InvalidInput
from borealis.engine.nodes.base import Item
from borealis.server.workflows.models import Workflow, WorkflowNodeRun, WorkflowRun

MAX_INPUT_ITEMS = 10_000


def as_items(value: Any) -> list[Item]:
    """A run's input: an object (one item), a list of objects, or nothing."""
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if len(values) > MAX_INPUT_ITEMS:
        raise InvalidInput(f"at most {MAX_INPUT_ITEMS} input items", field="input")
    return [{"json": v if isinstance(v, dict) else {"value": v}, "binary_ref": None} for v in values]


def run_view(run: WorkflowRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "status": run.status,
        "trigger": run.trigger,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "created_by": run.created_by,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at) if run.started_at else None,
        "finished_at": iso(run.finished_at) if run.finished_at else None,
    }


def node_view(row: WorkflowNodeRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "node_id": row.node_id,
        "node_type": row.node_type,
        "attempt": row.attempt,
        "status": row.status,
        "input": row.input,
        "output": row.output,
        "error": row.error,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "duration_ms": row.duration_ms,
    }


def workflow_view(workflow: Workflow, hooks: dict[str, str] | None = None) -> dict[str, Any]:
    view = {
        "id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "version": workflow.version,
        "enabled": workflow.enabled,
        "owner": workflow.owner,
        "owner_name": workflow.owner_name,
        "document": workflow.document,
        "created_by": workflow.created_by,
        "created_at": iso(workflow.created_at),
        "updated_by": workflow.updated_by,
        "updated_at": iso(workflow.updated_at),
    }
    if hooks:
        view["hooks"] = {node_id: f"/hooks/{secret}" for node_id, secret in hooks.items()}
    return view
