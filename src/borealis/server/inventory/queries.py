"""Reading the inventory: one agent's snapshots, and the fleet-wide searches over the denormalised
items (a package by name and version range, pending updates, full disks, processes by name).

Version ranges cannot be expressed in SQL (each distribution orders versions its own way), so the
package search reads the rows of that name in id order and filters them here, a bounded number of
rows per page: a page may hold fewer than `limit` items and still have a `next_cursor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import iso
from borealis.server.db.models import Agent, InventoryItem, InventorySection
from borealis.server.inventory.items import process_view, text
from borealis.server.inventory.versions import compare

SCAN_ROWS = 20_000  # rows read per page of a version-range search at most
READ_CHUNK = 1000


def section_view(row: InventorySection) -> dict[str, Any]:
    return {
        "hash": row.hash,
        "collected_at": iso(row.collected_at),
        "received_at": iso(row.received_at),
        "duration_ms": row.duration_ms,
        "error": row.error,
        "data": None if row.data is None else orjson.loads(row.data),
    }


async def sections_of(
    session: AsyncSession, agent_id: str, only: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    query = select(InventorySection).where(InventorySection.agent_id == agent_id)
    if only:
        query = query.where(InventorySection.section.in_(list(only)))
    rows = (await session.scalars(query.order_by(InventorySection.section))).all()
    return {row.section: section_view(row) for row in rows}


@dataclass(frozen=True)
class VersionRange:
    lt: str | None = None
    lte: str | None = None
    gt: str | None = None
    gte: str | None = None

    def holds(self, version: str, source: str) -> bool:
        if self.lt is not None and not compare(version, self.lt, source) < 0:
            return False
        if self.lte is not None and not compare(version, self.lte, source) <= 0:
            return False
        if self.gt is not None and not compare(version, self.gt, source) > 0:
            return False
        return self.gte is None or compare(version, self.gte, source) >= 0

    @property
    def empty(self) -> bool:
        return self.lt is None and self.lte is None and self.gt is None and self.gte is None


def _page(rows: list[Any], limit: int) -> str | None:
    return str(rows[-1].id) if len(rows) == limit else None


def _items_query(section: str) -> Any:
    return (
        select(InventoryItem, Agent.hostname)
        .join(Agent, Agent.id == InventoryItem.agent_id)
        .where(InventoryItem.section == section)
        .order_by(InventoryItem.id)
    )


async def software(
    session: AsyncSession, name: str, versions: VersionRange, limit: int, cursor: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Machines holding package `name` (exact), optionally within a version range."""
    found: list[dict[str, Any]] = []
    after, scanned = cursor or 0, 0
    while len(found) < limit and scanned < SCAN_ROWS:
        chunk = limit if versions.empty else READ_CHUNK
        query = _items_query("software").where(InventoryItem.name == name, InventoryItem.id > after)
        rows = (await session.execute(query.limit(chunk))).all()
        for item, hostname in rows:
            after, scanned = item.id, scanned + 1
            if versions.holds(item.version, item.source):
                found.append(_software_view(item, hostname))
                if len(found) == limit:
                    break
        if len(rows) < chunk:
            return found, None
    return found, str(after)


def _software_view(item: InventoryItem, hostname: str) -> dict[str, Any]:
    return {
        "agent_id": item.agent_id,
        "hostname": hostname,
        "name": item.name,
        "version": item.version,
        "arch": item.arch,
        "source": item.source,
    }


async def updates(
    session: AsyncSession, security_only: bool, name: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Machines with pending updates (only security ones, when asked): their counts, by agent id."""
    query = (
        select(
            InventoryItem.agent_id,
            Agent.hostname,
            func.count().label("pending"),
            func.sum(case((InventoryItem.flag.is_(True), 1), else_=0)),
        )
        .join(Agent, Agent.id == InventoryItem.agent_id)
        .where(InventoryItem.section == "updates")
        .group_by(InventoryItem.agent_id, Agent.hostname)
        .order_by(InventoryItem.agent_id)
        .limit(limit)
    )
    if security_only:
        query = query.where(InventoryItem.flag.is_(True))
    if name is not None:
        query = query.where(InventoryItem.name == name)
    if cursor:
        query = query.where(InventoryItem.agent_id > cursor)
    rows: list[Any] = list((await session.execute(query)).all())
    items = [
        {"agent_id": row[0], "hostname": row[1], "pending": int(row[2]), "security": int(row[3] or 0)}
        for row in rows
    ]
    return items, rows[-1][0] if len(rows) == limit else None


async def disks(
    session: AsyncSession, above_pct: float, limit: int, cursor: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    query = _items_query("disks").where(InventoryItem.number > above_pct).limit(limit)
    if cursor is not None:
        query = query.where(InventoryItem.id > cursor)
    rows = (await session.execute(query)).all()
    items = [
        {
            "agent_id": item.agent_id,
            "hostname": hostname,
            "mountpoint": item.name,
            "percent": item.number,
            **(item.detail or {}),
        }
        for item, hostname in rows
    ]
    return items, _page([item for item, _ in rows], limit)


async def processes(
    session: AsyncSession, name: str, limit: int, cursor: int | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Processes named `name` on the agents whose last process list has one, paged by agent (the
    items of a page come from those agents' snapshots)."""
    query = _items_query("processes").where(InventoryItem.name == name).limit(limit)
    if cursor is not None:
        query = query.where(InventoryItem.id > cursor)
    rows = (await session.execute(query)).all()
    agents = {item.agent_id: hostname for item, hostname in rows}
    snapshots = await session.execute(
        select(InventorySection.agent_id, InventorySection.data).where(
            InventorySection.section == "processes", InventorySection.agent_id.in_(list(agents))
        )
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for agent_id, data in snapshots:
        listed = orjson.loads(data) if data else []
        found[agent_id] = [
            process_view(p) for p in listed if isinstance(p, dict) and text(p.get("name"), 255) == name
        ]
    items = [
        {"agent_id": item.agent_id, "hostname": hostname, **process}
        for item, hostname in rows
        for process in found.get(item.agent_id, [])
    ]
    return items, _page([item for item, _ in rows], limit)
