"""Workflow runs: list with filters, one run with its node records, cancel, live events (SSE), and
the large node payloads kept as blobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, get_args

from fastapi import APIRouter, Query, Request, Response
from starlette.responses import StreamingResponse

from borealis.core.errors import InvalidInput
from borealis.engine.states import FINAL_RUN_STATES
from borealis.server.api.common import (
    EVENT_STREAM,
    JSON_PAYLOAD,
    Limit,
    WorkflowsRead,
    WorkflowsWrite,
    client_ip,
)
from borealis.server.api.schemas.workflows import RunDetail, RunPage, RunStatus, RunView
from borealis.server.jobs.stream import sse
from borealis.server.state import state_of
from borealis.server.workflows import store
from borealis.server.workflows.run_replay import replay_of
from borealis.server.workflows.service import WorkflowService
from borealis.server.workflows.views import node_view, run_view

router = APIRouter(prefix="/api/v1/runs", tags=["workflows"])
KEEPALIVE_S = 10.0
RUN_STATES: tuple[str, ...] = get_args(RunStatus)


@router.get("", response_model=RunPage)
async def list_runs(
    request: Request,
    who: WorkflowsRead,
    limit: Limit = 50,
    cursor: str | None = Query(default=None, max_length=64),
    workflow_id: str | None = Query(default=None, max_length=64),
    status: str | None = Query(default=None, max_length=16),
    since: datetime | None = None,
) -> dict[str, Any]:
    if status is not None and status not in RUN_STATES:
        raise InvalidInput(f"status must be one of {', '.join(RUN_STATES)}", field="status")
    if since is not None and since.tzinfo is None:
        raise InvalidInput("since needs a time zone (e.g. 2026-11-27T10:00:00Z)", field="since")
    async with state_of(request).db.session() as session:
        rows = await store.list_runs(session, limit, cursor, workflow_id, status, since)
    return {
        "items": [run_view(row) for row in rows],
        "next_cursor": rows[-1].id if len(rows) == limit else None,
    }


@router.get("/{run_id}", response_model=RunDetail)
async def one_run(run_id: str, request: Request, who: WorkflowsRead) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        run = await store.get_run(session, run_id)
        nodes = await store.node_records(session, run.id)
    return {**run_view(run), "nodes": [node_view(row) for row in nodes]}


@router.post("/{run_id}/cancel", response_model=RunView)
async def cancel_run(run_id: str, request: Request, who: WorkflowsWrite) -> dict[str, Any]:
    return await state_of(request).workflows.cancel(run_id, who.actor, client_ip(request))


@router.get("/{run_id}/payloads/{name}", response_class=Response, responses=JSON_PAYLOAD)
async def payload(run_id: str, name: str, request: Request, who: WorkflowsRead) -> Response:
    if "/" in name or not name.endswith(".json") or len(name) > 200:
        raise InvalidInput("no such payload", field="name")
    async with state_of(request).db.session() as session:
        await store.get_run(session, run_id)
    data = await asyncio.to_thread(state_of(request).workflows.read_blob, f"runs/{run_id}/{name}")
    return Response(data, media_type="application/json")


@router.get("/{run_id}/events", response_class=StreamingResponse, responses=EVENT_STREAM)
async def run_events(run_id: str, request: Request, who: WorkflowsRead) -> StreamingResponse:
    workflows = state_of(request).workflows
    async with workflows.db.session() as session:
        await store.get_run(session, run_id)
    return StreamingResponse(_events(workflows, run_id), media_type="text/event-stream")


async def _events(workflows: WorkflowService, run_id: str) -> AsyncIterator[bytes]:
    """A snapshot, then node and run events, then `end` with the final run."""
    listener = workflows.events.listen(run_id)
    replay = replay_of(workflows.bus)
    missed = replay.node_events(run_id) if replay is not None else []
    try:
        async with workflows.db.session() as session:
            run = await store.get_run(session, run_id)
        yield sse("snapshot", run_view(run))
        for event in missed:  # node states from before this stream, not yet in the stored records
            yield sse("node", event)
        while run.status not in FINAL_RUN_STATES:
            try:
                event = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                async with workflows.db.session() as session:
                    run = await store.get_run(session, run_id)
                continue
            yield sse(str(event.get("type", "event")), event)
            if event.get("type") == "run" and event.get("status") in FINAL_RUN_STATES:
                break
        async with workflows.db.session() as session:
            yield sse("end", run_view(await store.get_run(session, run_id)))
    finally:
        workflows.events.unlisten(listener)
