"""The audit log, newest first, filterable; `next_cursor` pages back in time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request

from borealis.core.clock import iso
from borealis.server import audit
from borealis.server.api.common import AuditRead, Limit
from borealis.server.api.schemas.operators import AuditPage
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
async def list_audit(
    request: Request,
    who: AuditRead,
    limit: Limit = 100,
    cursor: int | None = Query(default=None, ge=1, le=2**31 - 1),  # ids are 32-bit on PostgreSQL
    action: str | None = Query(default=None, max_length=64),
    actor: str | None = Query(default=None, max_length=160),
    target: str | None = Query(default=None, max_length=160),
    since: datetime | None = None,
) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    async with state_of(request).db.session() as session:
        rows = await audit.search(session, limit, cursor, action, actor, target, since)
    items = [
        {
            "id": r.id,
            "at": iso(r.at),
            "actor": r.actor,
            "actor_name": r.actor_name,
            "action": r.action,
            "target": r.target,
            "detail": r.detail,
            "ip": r.ip,
        }
        for r in rows
    ]
    return {"items": items, "next_cursor": str(rows[-1].id) if len(rows) == limit else None}
