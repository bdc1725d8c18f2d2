"""Inventory (DESIGN §10): an agent's sections and change history, a refresh on demand, and the
fleet-wide searches (a package by version range, pending updates, full disks, processes by name)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from borealis.core.errors import NotFound
from borealis.protocol.inventory import SECTIONS
from borealis.server.agents import get_agent
from borealis.server.api.common import InventoryRead, JobsRun, Limit, client_ip
from borealis.server.api.schemas.inventory import (
    AgentInventory,
    AgentSection,
    ChangePage,
    DiskPage,
    ProcessPage,
    RefreshDone,
    SoftwarePage,
    UpdatesPage,
)
from borealis.server.inventory import history, queries
from borealis.server.state import state_of

router = APIRouter(tags=["inventory"])
AGENT = "/api/v1/agents/{agent_id}/inventory"
FLEET = "/api/v1/inventory"
SECTION_PATTERN = "^(" + "|".join(SECTIONS) + ")$"
MAX_WAIT_S = 120.0

SectionQuery = Annotated[str | None, Query(pattern=SECTION_PATTERN, description="one section")]
Cursor = Annotated[int | None, Query(ge=0, le=2**62, description="from the previous page")]
Version = Annotated[str | None, Query(min_length=1, max_length=128)]
Name = Annotated[str, Query(min_length=1, max_length=255, description="exact name")]


class RefreshRequest(BaseModel):
    sections: list[Annotated[str, Field(pattern=SECTION_PATTERN)]] | None = Field(
        default=None, max_length=len(SECTIONS)
    )
    wait_s: float = Field(default=30.0, ge=0, le=MAX_WAIT_S)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get(AGENT, response_model=AgentInventory)
async def agent_inventory(agent_id: str, request: Request, who: InventoryRead) -> dict[str, Any]:
    """Every section stored for the agent: `{agent_id, sections: {name: {data, hash, collected_at,
    received_at, duration_ms, error}}}`. A section never collected is absent."""
    async with state_of(request).db.session() as session:
        await get_agent(session, agent_id)
        sections = await queries.sections_of(session, agent_id)
    return {"agent_id": agent_id, "sections": sections}


@router.get(AGENT + "/changes", response_model=ChangePage)
async def agent_changes(
    agent_id: str,
    request: Request,
    who: InventoryRead,
    limit: Limit = 100,
    cursor: Cursor = None,
    since: datetime | None = None,
    section: SectionQuery = None,
) -> dict[str, Any]:
    """The agent's changes, newest first: `{items: [{id, at, section, kind, subject, before, after}],
    next_cursor}`."""
    async with state_of(request).db.session() as session:
        await get_agent(session, agent_id)
        items, next_cursor = await history.changes_of(session, agent_id, limit, cursor, _utc(since), section)
    return {"items": items, "next_cursor": next_cursor}


@router.get(AGENT + "/{section}", response_model=AgentSection)
async def agent_section(agent_id: str, section: str, request: Request, who: InventoryRead) -> dict[str, Any]:
    if section not in SECTIONS:
        raise NotFound(f"no inventory section {section[:32]!r}; sections are {', '.join(SECTIONS)}")
    async with state_of(request).db.session() as session:
        await get_agent(session, agent_id)
        found = await queries.sections_of(session, agent_id, [section])
    if section not in found:
        raise NotFound(f"agent {agent_id} has not reported its {section} yet")
    return {"agent_id": agent_id, "section": section, **found[section]}


@router.post(
    AGENT + "/refresh",
    response_model=RefreshDone,
    response_model_exclude_unset=True,
    responses={202: {"model": RefreshDone, "description": "still running: `{job_id, status: pending}`"}},
)
async def refresh_inventory(
    agent_id: str, body: RefreshRequest, request: Request, response: Response, who: JobsRun
) -> dict[str, Any]:
    """Run the `inventory` role now (forced: every asked section is sent) and wait up to `wait_s`.
    Done in time: 200 `{job_id, status, sections}`. Not yet (the agent is slow or offline; an offline
    agent runs it when it connects within the hour): 202 `{job_id, status: "pending"}`."""
    state = state_of(request)
    sections = list(dict.fromkeys(body.sections)) if body.sections else None
    done = await state.inventory.refresh(agent_id, sections, body.wait_s, who.actor, client_ip(request))
    if done.status is None:
        response.status_code = 202
        return {"job_id": done.job_id, "status": "pending"}
    async with state.db.session() as session:
        stored = await queries.sections_of(session, agent_id, sections)
    return {"job_id": done.job_id, "status": done.status, "sections": stored}


@router.get(FLEET + "/software", response_model=SoftwarePage)
async def fleet_software(
    request: Request,
    who: InventoryRead,
    name: Name,
    version_lt: Version = None,
    version_lte: Version = None,
    version_gt: Version = None,
    version_gte: Version = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Machines holding package `name`, optionally within a version range compared by the package's
    own source (dpkg or rpm ordering): `{items: [{agent_id, hostname, name, version, arch, source}],
    next_cursor}`."""
    versions = queries.VersionRange(lt=version_lt, lte=version_lte, gt=version_gt, gte=version_gte)
    async with state_of(request).db.session() as session:
        items, next_cursor = await queries.software(session, name, versions, limit, cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get(FLEET + "/updates", response_model=UpdatesPage)
async def fleet_updates(
    request: Request,
    who: InventoryRead,
    security: bool = False,
    name: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    limit: Limit = 100,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Machines with pending updates (`security=true`: security updates only):
    `{items: [{agent_id, hostname, pending, security}], next_cursor}`."""
    async with state_of(request).db.session() as session:
        items, next_cursor = await queries.updates(session, security, name, limit, cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get(FLEET + "/disks", response_model=DiskPage)
async def fleet_disks(
    request: Request,
    who: InventoryRead,
    above_pct: Annotated[float, Query(ge=0, le=100)] = 90.0,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """Volumes fuller than `above_pct`: `{items: [{agent_id, hostname, mountpoint, device, percent,
    total_bytes, used_bytes}], next_cursor}`."""
    async with state_of(request).db.session() as session:
        items, next_cursor = await queries.disks(session, above_pct, limit, cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get(FLEET + "/processes", response_model=ProcessPage)
async def fleet_processes(
    request: Request, who: InventoryRead, name: Name, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    """Running processes named `name` across the fleet (as last collected):
    `{items: [{agent_id, hostname, name, pid, ppid, user, cmdline}], next_cursor}`."""
    async with state_of(request).db.session() as session:
        items, next_cursor = await queries.processes(session, name, limit, cursor)
    return {"items": items, "next_cursor": next_cursor}
