"""Inventory as the API shows it: an agent's sections, its change history, the fleet searches."""

from __future__ import annotations

from typing import Literal

from borealis.protocol.jobs import JobState
from borealis.server.api.schemas.common import Json, Page, Schema, Timestamp


class SectionView(Schema):
    """One stored section; `data` is what the agent collected (an object or a list of objects)."""

    hash: str
    collected_at: Timestamp
    received_at: Timestamp
    duration_ms: int
    error: str | None
    data: Json


class AgentInventory(Schema):
    agent_id: str
    sections: dict[str, SectionView]


class AgentSection(SectionView):
    agent_id: str
    section: str


class RefreshDone(Schema):
    """200: the refresh finished (`sections` as stored after it); 202: still `pending`, no sections."""

    job_id: str
    status: JobState | Literal["pending"]
    sections: dict[str, SectionView] | None = None


class ChangeView(Schema):
    id: int
    at: Timestamp
    section: str
    kind: str
    subject: str
    before: str | None
    after: str | None


class ChangePage(Page[ChangeView]):
    pass


class SoftwareHit(Schema):
    agent_id: str
    hostname: str
    name: str
    version: str
    arch: str
    source: str


class SoftwarePage(Page[SoftwareHit]):
    pass


class UpdatesHit(Schema):
    agent_id: str
    hostname: str
    pending: int
    security: int


class UpdatesPage(Page[UpdatesHit]):
    pass


class DiskHit(Schema):
    agent_id: str
    hostname: str
    mountpoint: str
    percent: float | None
    device: str | None = None
    total_bytes: int | None = None
    used_bytes: int | None = None


class DiskPage(Page[DiskHit]):
    pass


class ProcessHit(Schema):
    agent_id: str
    hostname: str
    name: str
    pid: int | None
    ppid: int | None
    user: str
    cmdline: str


class ProcessPage(Page[ProcessHit]):
    pass
