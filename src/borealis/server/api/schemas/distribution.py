"""Code the server distributes to agents as the API shows it: agent versions, rollouts, role modules."""

from __future__ import annotations

from borealis.protocol.agent_updates import UpdateState
from borealis.server.api.schemas.common import JsonObject, Page, Schema, Timestamp


class AgentVersionView(Schema):
    version: str
    filename: str
    sha256: str
    size: int
    signature: str
    uploaded_by: str
    uploaded_at: Timestamp


class AgentVersionPage(Page[AgentVersionView]):
    pass


class RolloutCounts(Schema):
    """How many agents of the rollout are in each state (every state is present)."""

    pending: int
    offered: int
    downloading: int
    installed: int
    switching: int
    connected: int
    failed: int
    rolled_back: int
    timed_out: int
    cancelled: int


class RolloutView(Schema):
    version: str
    target: JsonObject
    batch_size: int
    created_by: str
    created_at: Timestamp
    updated_at: Timestamp
    counts: RolloutCounts
    done: bool


class RolloutAgent(Schema):
    agent_id: str
    hostname: str
    state: UpdateState
    reason: str | None
    from_version: str
    offered_at: Timestamp | None
    updated_at: Timestamp


class RolloutProgress(RolloutView):
    agents: list[RolloutAgent]
    next_cursor: str | None


class RoleModuleView(Schema):
    name: str
    version: int
    sha256: str
    target: JsonObject
    description: str
    created_by: str
    created_at: Timestamp
    withdrawn_at: Timestamp | None


class RoleModulePage(Page[RoleModuleView]):
    pass


class RoleReport(Schema):
    """What an agent last said about the module (kept in memory by the server process)."""

    agent_id: str
    version: int | None
    ok: bool
    removed: bool
    error: str | None
    at: Timestamp


class RoleModuleDetail(RoleModuleView):
    body: str
    versions: list[RoleModuleView]
    agents: list[RoleReport]
