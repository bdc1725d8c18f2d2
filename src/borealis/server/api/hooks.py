"""Webhook triggers: `/hooks/{secret}` starts a run of the workflow whose webhook node owns that
secret. The secret in the URL is the credential (random, 256 bits, stored hashed); there is no other
authentication, so the route answers an unknown secret exactly like a missing page."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from borealis.core.errors import NotFound
from borealis.engine.states import FINAL_RUN_STATES, RunState
from borealis.server.api.schemas.workflows import HookAccepted
from borealis.server.state import state_of
from borealis.server.workflows import store
from borealis.server.workflows.models import Workflow

router = APIRouter(tags=["workflows"])
HEADERS_KEPT = ("content-type", "user-agent", "x-request-id", "x-github-event", "x-gitlab-event")
DEFAULT_WAIT_S = 30.0


async def _request_item(request: Request) -> dict[str, Any]:
    raw = await request.body()
    body: Any
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = raw.decode("utf-8", errors="replace")
    headers = {name: request.headers[name] for name in HEADERS_KEPT if name in request.headers}
    return {"method": request.method, "query": dict(request.query_params), "headers": headers, "body": body}


async def webhook(secret: str, request: Request) -> JSONResponse:
    state = state_of(request)
    async with state.db.session() as session:
        hook = await store.hook_target(session, secret)
        workflow = await session.get(Workflow, hook.workflow_id) if hook is not None else None
    if hook is None or workflow is None:
        raise NotFound("no such hook")
    node: dict[str, Any] = next(
        (n for n in workflow.document.get("nodes", []) if n.get("id") == hook.node_id), {}
    )
    params: dict[str, Any] = node.get("params") or {}
    item = {"json": await _request_item(request), "binary_ref": None}
    trigger = {"type": "webhook", "node_id": hook.node_id}
    run_id = await state.workflows.start_run(workflow.id, [item], trigger, f"hook:{hook.node_id}"[:160])
    if params.get("response") != "sync":
        return JSONResponse({"run_id": run_id, "status": RunState.QUEUED}, status_code=202)
    run = await state.workflows.wait_run(run_id, float(params.get("wait_s", DEFAULT_WAIT_S)))
    if run["status"] not in FINAL_RUN_STATES:
        return JSONResponse({"run_id": run_id, "status": run["status"]}, status_code=202)
    output = [entry.get("json") for entry in run["output"] or [] if isinstance(entry, dict)]
    return JSONResponse(
        {"run_id": run_id, "status": run["status"], "output": output, "error": run["error"]}, status_code=200
    )


for _method in ("GET", "POST", "PUT"):  # one route per method, each with its own OpenAPI operation id
    router.add_api_route(
        "/hooks/{secret}",
        webhook,
        methods=[_method],
        operation_id=f"webhook_{_method.lower()}",
        response_model=HookAccepted,
        responses={202: {"model": HookAccepted, "description": "the run is queued or still running"}},
    )
