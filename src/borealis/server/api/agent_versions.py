"""Agent versions: upload a wheel (raw body, `?filename=`), list, one, delete, and its rollout
(start or extend with `{target, batch_size}`, per-agent progress, cancel what has not started).
Uploading, deleting and rolling out need `agents:update`, which only admins hold by default: a
version is code every targeted agent runs as root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from borealis.core.clock import iso
from borealis.core.errors import InvalidInput
from borealis.protocol.agent_updates import UpdateState
from borealis.server.agent_updates import store
from borealis.server.api.common import AgentsRead, Limit, client_ip
from borealis.server.api.guard import RequireScope
from borealis.server.api.jobs import MAX_TARGET_AGENTS, Target
from borealis.server.api.schemas.distribution import (
    AgentVersionPage,
    AgentVersionView,
    RolloutProgress,
    RolloutView,
)
from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import Scope
from borealis.server.db.models import AgentRollout, AgentVersion
from borealis.server.state import state_of

UPLOAD_PATH = "/api/v1/agent-versions"
router = APIRouter(prefix=UPLOAD_PATH, tags=["agent versions"])
AgentsUpdate = Annotated[Principal, Depends(RequireScope(Scope.AGENTS_UPDATE))]


class NewRollout(BaseModel):
    target: Target
    batch_size: int = Field(default=10, ge=1, le=MAX_TARGET_AGENTS)


def version_view(row: AgentVersion) -> dict[str, Any]:
    return {
        "version": row.version,
        "filename": row.filename,
        "sha256": row.sha256,
        "size": row.size,
        "signature": row.signature,
        "uploaded_by": row.uploaded_by,
        "uploaded_at": iso(row.uploaded_at),
    }


def rollout_view(rollout: AgentRollout, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "version": rollout.version,
        "target": rollout.target,
        "batch_size": rollout.batch_size,
        "created_by": rollout.created_by,
        "created_at": iso(rollout.created_at),
        "updated_at": iso(rollout.updated_at),
        "counts": counts,
        "done": all(counts[s.value] == 0 for s in UpdateState if not s.final),
    }


@router.post("", status_code=201, response_model=AgentVersionView)
async def upload_version(
    request: Request,
    who: AgentsUpdate,
    filename: str = Query(min_length=1, max_length=255, description="borealis-<version>-py3-none-any.whl"),
) -> dict[str, Any]:
    """The wheel's bytes are the request body (any content type); its version comes from its METADATA."""
    updates = state_of(request).updates
    row = await updates.catalog.upload(filename, _body(request), who.actor, client_ip(request))
    return version_view(row)


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body; a client gone mid-upload (or cut off by the size limit) is bad input."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise InvalidInput("the upload ended before the whole wheel arrived") from None


@router.get("", response_model=AgentVersionPage)
async def list_versions(request: Request, who: AgentsRead) -> dict[str, Any]:
    rows = await state_of(request).updates.catalog.listing()
    return {"items": [version_view(row) for row in rows], "next_cursor": None}


@router.get("/{version}", response_model=AgentVersionView)
async def one_version(version: str, request: Request, who: AgentsRead) -> dict[str, Any]:
    return version_view(await state_of(request).updates.catalog.one(version))


@router.delete("/{version}", status_code=204)
async def delete_version(version: str, request: Request, who: AgentsUpdate) -> None:
    await state_of(request).updates.catalog.delete(version, who.actor, client_ip(request))


@router.post("/{version}/rollout", status_code=202, response_model=RolloutView)
async def start_rollout(
    version: str, body: NewRollout, request: Request, who: AgentsUpdate
) -> dict[str, Any]:
    state = state_of(request)
    target = body.target.model_dump(exclude_none=True)
    rollout = await state.updates.rollouts.start_rollout(
        version, target, body.batch_size, who.actor, client_ip(request)
    )
    async with state.db.session() as session:
        counts = await store.counts(session, version)
    return rollout_view(rollout, counts)


@router.post("/{version}/rollout/cancel", response_model=RolloutView)
async def cancel_rollout(version: str, request: Request, who: AgentsUpdate) -> dict[str, Any]:
    """Pending agents become `cancelled`; agents already updating finish. Posting the rollout again
    retries the cancelled ones."""
    state = state_of(request)
    rollout = await state.updates.rollouts.cancel(version, who.actor, client_ip(request))
    async with state.db.session() as session:
        counts = await store.counts(session, version)
    return rollout_view(rollout, counts)


@router.get("/{version}/rollout", response_model=RolloutProgress)
async def rollout_progress(
    version: str,
    request: Request,
    who: AgentsRead,
    limit: Limit = 1000,
    cursor: str | None = Query(
        default=None, max_length=64, description="the last agent id of the page before"
    ),
    state: UpdateState | None = None,
) -> dict[str, Any]:
    """The rollout with its counts, and one row per agent (a page of them, ordered by agent id)."""
    async with state_of(request).db.session() as session:
        rollout = await store.get_rollout(session, version)
        counts = await store.counts(session, version)
        rows = await store.rollout_rows(session, version, limit, cursor, state.value if state else None)
    agents = [
        {
            "agent_id": row.agent_id,
            "hostname": hostname,
            "state": row.state,
            "reason": row.reason,
            "from_version": row.from_version,
            "offered_at": iso(row.offered_at),
            "updated_at": iso(row.updated_at),
        }
        for row, hostname in rows
    ]
    return {
        **rollout_view(rollout, counts),
        "agents": agents,
        "next_cursor": agents[-1]["agent_id"] if len(agents) == limit else None,
    }
