"""The audit log: who did what to which thing, and when. Written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import utcnow
from borealis.server.db.models import AuditEntry


def record(
    session: AsyncSession,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    *,
    actor_name: str | None = None,
    **detail: Any,
) -> None:
    """`actor` is an id (`token:<id>`, `user:<id>`…); its display name is kept beside it, from
    `actor_name` or from the `Actor` the principal gave."""
    name = actor_name if actor_name is not None else getattr(actor, "display", None)
    # Cut to the columns' sizes: an actor such as `host:<hostname>` comes from the request, and a record
    # that does not fit must not turn the action it records into a failure.
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor[:160],
            actor_name=name[:128] if name else None,
            action=action[:64],
            target=target[:160] if target else target,
            detail=detail,
            ip=ip[:64] if ip else ip,
        )
    )


async def search(
    session: AsyncSession,
    limit: int,
    before_id: int | None = None,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if target:
        query = query.where(AuditEntry.target == target)
    if since:
        query = query.where(AuditEntry.at >= since)
    return list((await session.scalars(query)).all())
