"""The fleet as the API shows it: agents, install codes and an agent's enrollment."""

from __future__ import annotations

from typing import Literal

from borealis.server.api.schemas.common import JsonObject, Page, Schema, Timestamp
from borealis.server.presence import AgentStatus


class AgentView(Schema):
    id: str
    hostname: str
    status: AgentStatus
    last_seen: Timestamp | None
    connected_since: Timestamp | None
    os: str
    os_version: str
    arch: str
    tags: list[str]
    version: str
    notes: str
    enrolled_at: Timestamp
    revoked_at: Timestamp | None
    agent_rss_bytes: int | None
    agent_cpu_pct: float | None


class AgentDetail(AgentView):
    facts: JsonObject


class AgentPage(Page[AgentView]):
    pass


class EnrollmentView(Schema):
    id: str
    state: Literal["active", "expired", "used_up", "revoked"]
    uses_allowed: int
    uses_count: int
    tags: list[str]
    approval_required: bool
    note: str
    created_by: str
    created_at: Timestamp
    expires_at: Timestamp
    revoked_at: Timestamp | None


class NewEnrollmentView(EnrollmentView):
    install_code: str


class EnrollmentPage(Page[EnrollmentView]):
    pass


class Enrolled(Schema):
    agent_id: str
    status: Literal["active", "pending"]
    server_public_key: str
    heartbeat_s: float
