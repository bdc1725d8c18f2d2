"""The change history: an agent's changes newest first (paged by id), and pruning by age and count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import iso
from borealis.server.db.models import InventoryChange

PRUNE_CHUNK = 500


def change_view(change: InventoryChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "at": iso(change.at),
        "section": change.section,
        "kind": change.kind,
        "subject": change.subject,
        "before": change.before,
        "after": change.after,
    }


async def changes_of(
    session: AsyncSession,
    agent_id: str,
    limit: int,
    cursor: int | None,
    since: datetime | None,
    section: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    query = (
        select(InventoryChange)
        .where(InventoryChange.agent_id == agent_id)
        .order_by(InventoryChange.id.desc())
        .limit(limit)
    )
    if cursor is not None:
        query = query.where(InventoryChange.id < cursor)
    if since is not None:
        query = query.where(InventoryChange.at >= since)
    if section is not None:
        query = query.where(InventoryChange.section == section)
    rows = list((await session.scalars(query)).all())
    next_cursor = str(rows[-1].id) if len(rows) == limit else None
    return [change_view(row) for row in rows], next_cursor


async def prune(session: AsyncSession, older_than: datetime, keep_per_agent: int) -> int:
    """Delete changes before `older_than`, then each agent's oldest beyond `keep_per_agent`."""
    result = await session.execute(delete(InventoryChange).where(InventoryChange.at < older_than))
    removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    crowded = await session.execute(
        select(InventoryChange.agent_id)
        .group_by(InventoryChange.agent_id)
        .having(func.count() > keep_per_agent)
        .limit(PRUNE_CHUNK)
    )
    for (agent_id,) in crowded.all():
        oldest_kept = await session.scalar(
            select(InventoryChange.id)
            .where(InventoryChange.agent_id == agent_id)
            .order_by(InventoryChange.id.desc())
            .offset(max(keep_per_agent, 1) - 1)
            .limit(1)
        )
        if oldest_kept is not None:
            result = await session.execute(
                delete(InventoryChange).where(
                    InventoryChange.agent_id == agent_id, InventoryChange.id < oldest_kept
                )
            )
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed
