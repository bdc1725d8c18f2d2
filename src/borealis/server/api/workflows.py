"""Workflows (DESIGN §11): create, read, list, versions, update (a new version; a stale `version` is a
409), delete, start a run, rotate a webhook's secret URL; and the node-type catalog."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from borealis.core.clock import iso
from borealis.server.api.common import Limit, WorkflowsRead, WorkflowsWrite, client_ip
from borealis.server.api.schemas.workflows import (
    HookRotated,
    NodeTypePage,
    RunView,
    WorkflowPage,
    WorkflowVersionPage,
    WorkflowView,
)
from borealis.server.auth.authority import require_run
from borealis.server.auth.principal import Principal
from borealis.server.state import state_of
from borealis.server.workflows import store
from borealis.server.workflows.views import as_items, run_view, workflow_view

router = APIRouter(prefix="/api/v1", tags=["workflows"])


class NewWorkflow(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field(default="", max_length=1024)
    document: dict[str, Any]


class WorkflowChange(BaseModel):
    version: int = Field(ge=1, description="the version this change was made from")
    name: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=1024)
    document: dict[str, Any] | None = None
    enabled: bool | None = None


class NewRun(BaseModel):
    input: dict[str, Any] | list[Any] | None = None
    node_id: str | None = Field(default=None, max_length=64, description="the trigger node to start from")


def _may_run_steps(who: Principal, steps: list[str], what: str) -> None:
    """Agent steps make agents run jobs: saving, enabling or starting them needs what a job needs."""
    if steps:
        require_run(who, f"{what} with agent steps ({', '.join(steps[:5])})")


@router.get("/workflow-node-types", response_model=NodeTypePage)
async def node_types(request: Request, who: WorkflowsRead) -> dict[str, Any]:
    catalog = state_of(request).workflows.registry.catalog()
    return {"items": catalog, "next_cursor": None}


@router.post("/workflows", status_code=201, response_model=WorkflowView, response_model_exclude_unset=True)
async def create_workflow(body: NewWorkflow, request: Request, who: WorkflowsWrite) -> dict[str, Any]:
    workflows = state_of(request).workflows
    _may_run_steps(who, workflows.agent_steps_of(body.document), "a workflow")
    workflow, hooks = await workflows.create(
        body.name, body.description, body.document, who.actor, client_ip(request)
    )
    return workflow_view(workflow, hooks)


@router.get("/workflows", response_model=WorkflowPage)
async def list_workflows(
    request: Request,
    who: WorkflowsRead,
    limit: Limit = 100,
    cursor: str | None = Query(default=None, max_length=64),
) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        rows = await store.list_workflows(session, limit, cursor)
    items = [{k: v for k, v in workflow_view(row).items() if k != "document"} for row in rows]
    return {"items": items, "next_cursor": rows[-1].id if len(rows) == limit else None}


@router.get("/workflows/{workflow_id}", response_model=WorkflowView, response_model_exclude_unset=True)
async def one_workflow(
    workflow_id: str,
    request: Request,
    who: WorkflowsRead,
    version: int | None = Query(default=None, ge=1, le=2**31 - 1),
) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        workflow = await store.get_workflow(session, workflow_id)
        view = workflow_view(workflow)
        if version is not None and version != workflow.version:
            old = await store.get_version(session, workflow.id, version)
            view.update(
                version=old.version,
                document=old.document,
                updated_by=old.created_by,
                updated_at=iso(old.created_at),
            )
    return view


@router.get("/workflows/{workflow_id}/versions", response_model=WorkflowVersionPage)
async def workflow_versions(workflow_id: str, request: Request, who: WorkflowsRead) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        await store.get_workflow(session, workflow_id)
        rows = await store.versions(session, workflow_id)
    items = [
        {"version": r.version, "created_by": r.created_by, "created_at": iso(r.created_at)} for r in rows
    ]
    return {"items": items, "next_cursor": None}


@router.put("/workflows/{workflow_id}", response_model=WorkflowView, response_model_exclude_unset=True)
async def update_workflow(
    workflow_id: str, body: WorkflowChange, request: Request, who: WorkflowsWrite
) -> dict[str, Any]:
    workflows = state_of(request).workflows
    if body.document is not None:
        _may_run_steps(who, workflows.agent_steps_of(body.document), "a workflow")
    elif body.enabled:
        _may_run_steps(who, await workflows.agent_steps(workflow_id), "enabling a workflow")
    workflow, hooks = await workflows.update(
        workflow_id,
        body.version,
        who.actor,
        client_ip(request),
        name=body.name,
        description=body.description,
        document=body.document,
        enabled=body.enabled,
    )
    return workflow_view(workflow, hooks)


@router.delete("/workflows/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: str, request: Request, who: WorkflowsWrite) -> Response:
    await state_of(request).workflows.delete(workflow_id, who.actor, client_ip(request))
    return Response(status_code=204)


@router.post("/workflows/{workflow_id}/runs", status_code=201, response_model=RunView)
async def start_run(workflow_id: str, body: NewRun, request: Request, who: WorkflowsWrite) -> dict[str, Any]:
    workflows = state_of(request).workflows
    _may_run_steps(who, await workflows.agent_steps(workflow_id), "a run of a workflow")
    trigger: dict[str, Any] = {"type": "manual"}
    if body.node_id:
        trigger["node_id"] = body.node_id
    run_id = await workflows.start_run(
        workflow_id, as_items(body.input), trigger, who.actor, client_ip(request)
    )
    async with state_of(request).db.session() as session:
        return run_view(await store.get_run(session, run_id))


@router.post("/workflows/{workflow_id}/hooks/{node_id}/rotate", response_model=HookRotated)
async def rotate_hook(
    workflow_id: str, node_id: str, request: Request, who: WorkflowsWrite
) -> dict[str, Any]:
    secret = await state_of(request).workflows.rotate_hook(
        workflow_id, node_id[:64], who.actor, client_ip(request)
    )
    return {"node_id": node_id, "url": f"/hooks/{secret}"}
