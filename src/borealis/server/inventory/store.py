"""Writing uploads: a batch of them (from any number of agents) in one transaction.

For each incoming section the stored row decides what happens: the same hash and error → nothing is
written at all; an older `collected_at` than the stored one (a late re-send) → nothing; otherwise the
snapshot is replaced, the changes against the previous data are recorded, and the section's searchable
rows are rewritten. A failed collector's section keeps the last good data and records its error.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.server.db.models import InventoryChange, InventoryItem, InventorySection
from borealis.server.inventory.changes import Change, diff
from borealis.server.inventory.inbound import Incoming, Upload
from borealis.server.inventory.items import COLUMNS, SEARCHABLE, Row, section_rows

CHUNK = 500  # ids per IN (…) and rows per executemany: each chunk is an await, so the loop breathes
DIFFED = frozenset({"software", "updates", "disks", "system"})
SKIPPED = object()  # a section that writes nothing

sections_table = cast(Table, InventorySection.__table__)
changes_table = cast(Table, InventoryChange.__table__)
items_table = cast(Table, InventoryItem.__table__)


@dataclass
class Stored:
    hash: str
    error: str | None
    collected_at: datetime


@dataclass
class Written:
    """What one batch wrote, for logs and tests."""

    sections: int = 0
    unchanged: int = 0
    stale: int = 0
    changes: int = 0


@dataclass
class _Plan:
    inserts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    updates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    error_updates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    items: dict[tuple[str, str], list[Row]] = field(default_factory=dict)


async def write_batch(session: AsyncSession, uploads: list[tuple[str, Upload]], now: datetime) -> Written:
    agent_ids = sorted({agent_id for agent_id, _ in uploads})
    stored = await _stored(session, agent_ids)
    previous = await _previous_data(session, uploads, stored)
    plan, written = _Plan(), Written()
    for agent_id, upload in uploads:
        await asyncio.sleep(0)  # planning an upload is a millisecond of CPU: let requests through
        for incoming in upload.sections:
            key = (agent_id, incoming.name)
            planned = _plan_section(plan, written, key, incoming, stored.get(key), previous, now)
            if planned is SKIPPED:
                continue
            if incoming.error is None or key not in stored:
                stored[key] = Stored(incoming.hash, incoming.error, incoming.collected_at)
                previous[key] = planned
            else:
                stored[key] = Stored(stored[key].hash, incoming.error, incoming.collected_at)
    await _apply(session, plan)
    written.changes = len(plan.changes)
    return written


def _plan_section(
    plan: _Plan,
    written: Written,
    key: tuple[str, str],
    incoming: Incoming,
    before: Stored | None,
    previous: dict[tuple[str, str], Any],
    now: datetime,
) -> Any:
    """Plan the writes for one incoming section; returns its parsed data (None when it holds none),
    or `SKIPPED` when nothing is written."""
    if before is not None and before.hash == incoming.hash and before.error == incoming.error:
        written.unchanged += 1
        return SKIPPED
    if before is not None and incoming.collected_at < before.collected_at:
        written.stale += 1
        return SKIPPED
    written.sections += 1
    agent_id, section = key
    times = {
        "collected_at": incoming.collected_at,
        "received_at": now,
        "duration_ms": incoming.duration_ms,
        "error": incoming.error,
    }
    if before is not None and incoming.error is not None:
        plan.error_updates[key] = {"k_agent": agent_id, "k_section": section, **times}
        return None
    text = None if incoming.text is None else incoming.text.decode()
    row = {"hash": incoming.hash, "data": text, **times}
    plan.error_updates.pop(key, None)  # an earlier frame of this batch failed; this one is newer
    if before is None and key not in plan.inserts:
        plan.inserts[key] = {"agent_id": agent_id, "section": section, **row}
    elif key in plan.inserts:
        plan.inserts[key].update(row)
    else:
        plan.updates[key] = {"k_agent": agent_id, "k_section": section, **row}
    if incoming.text is None:
        return None
    data = orjson.loads(incoming.text) if section in DIFFED or section in SEARCHABLE else None
    if section in DIFFED:
        for change in diff(section, previous.get(key), data):
            plan.changes.append(_change_row(agent_id, section, change, now))
    if section in SEARCHABLE:
        plan.items[key] = section_rows(agent_id, section, data)
    return data


def _change_row(agent_id: str, section: str, change: Change, now: datetime) -> dict[str, Any]:
    return {
        "agent_id": agent_id,
        "at": now,
        "section": section,
        "kind": change.kind,
        "subject": change.subject[:255],
        "before": change.before[:255] if change.before is not None else None,
        "after": change.after[:255] if change.after is not None else None,
    }


async def _stored(session: AsyncSession, agent_ids: list[str]) -> dict[tuple[str, str], Stored]:
    found: dict[tuple[str, str], Stored] = {}
    for start in range(0, len(agent_ids), CHUNK):
        rows = await session.execute(
            select(
                InventorySection.agent_id,
                InventorySection.section,
                InventorySection.hash,
                InventorySection.error,
                InventorySection.collected_at,
            ).where(InventorySection.agent_id.in_(agent_ids[start : start + CHUNK]))
        )
        for agent_id, section, digest, error, collected_at in rows:
            found[(agent_id, section)] = Stored(digest, error, collected_at)
    return found


async def _previous_data(
    session: AsyncSession, uploads: list[tuple[str, Upload]], stored: dict[tuple[str, str], Stored]
) -> dict[tuple[str, str], Any]:
    """The stored data of the sections that changed and are diffed (read only for those)."""
    wanted: defaultdict[str, set[str]] = defaultdict(set)
    for agent_id, upload in uploads:
        for incoming in upload.sections:
            before = stored.get((agent_id, incoming.name))
            if incoming.name in DIFFED and incoming.error is None and before and before.hash != incoming.hash:
                wanted[incoming.name].add(agent_id)
    found: dict[tuple[str, str], Any] = {}
    for section, agents in wanted.items():
        ids = sorted(agents)
        for start in range(0, len(ids), CHUNK):
            rows = await session.execute(
                select(InventorySection.agent_id, InventorySection.data).where(
                    InventorySection.section == section,
                    InventorySection.agent_id.in_(ids[start : start + CHUNK]),
                )
            )
            found.update({(agent_id, section): orjson.loads(data) for agent_id, data in rows if data})
    return found


async def _apply(session: AsyncSession, plan: _Plan) -> None:
    await _many(session, insert(sections_table), list(plan.inserts.values()))
    where = and_(
        sections_table.c.agent_id == bindparam("k_agent"), sections_table.c.section == bindparam("k_section")
    )
    await _many(session, update(sections_table).where(where), list(plan.updates.values()))
    await _many(session, update(sections_table).where(where), list(plan.error_updates.values()))
    await _many(session, insert(changes_table), plan.changes)
    by_section: defaultdict[str, list[str]] = defaultdict(list)
    for agent_id, section in plan.items:
        by_section[section].append(agent_id)
    for section, agents in by_section.items():
        for start in range(0, len(agents), CHUNK):
            await session.execute(
                delete(items_table).where(
                    items_table.c.section == section,
                    items_table.c.agent_id.in_(agents[start : start + CHUNK]),
                )
            )
    rows = [row for listed in plan.items.values() for row in listed]
    await _insert_items(session, rows)


async def _insert_items(session: AsyncSession, rows: list[Row]) -> None:
    """The searchable rows through the driver's executemany, as tuples: the bulk of a first upload's
    rows (~230 for a typical machine), and SQLAlchemy's per-row parameter processing cost more than
    the insert itself. The two drivers the project supports differ only in their placeholders."""
    if not rows:
        return
    connection = await session.connection()
    style = connection.dialect.paramstyle
    if style == "qmark":
        marks = ", ".join("?" for _ in COLUMNS)
    elif style == "numeric_dollar":
        marks = ", ".join(f"${n}" for n in range(1, len(COLUMNS) + 1))
    else:  # pragma: no cover - database.normalize_url admits only SQLite and asyncpg
        raise RuntimeError(f"no placeholder rule for paramstyle {style!r}")
    columns = ", ".join(COLUMNS)
    statement = f"INSERT INTO {items_table.name} ({columns}) VALUES ({marks})"  # noqa: S608 (constants)
    for start in range(0, len(rows), CHUNK):
        await connection.exec_driver_sql(statement, rows[start : start + CHUNK])


async def _many(session: AsyncSession, statement: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.execute(statement, rows[start : start + CHUNK])
