"""Every WebSocket frame between agent and server as a type: one TypedDict per `MessageType` (and per
role message), its `t` a `Literal` of that tag, so a builder that forgets or misspells a field fails
the type check.

Types only: a frame is a plain dict on the wire and in memory, so these cost nothing at run time. A
frame from a peer is still checked field by field where it is read; its type says what an honest peer
sends, not what arrived.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from borealis.protocol.messages import MessageType
from borealis.protocol.roles import RoleMessage


class ChallengeFrame(TypedDict):
    """Server → agent, first: a fresh nonce, signed with the server's key."""

    t: Literal[MessageType.CHALLENGE]
    nonce: str
    server_time: float
    protocol: int
    signature: str


class HelloFrame(TypedDict):
    """Agent → server: its id and its signature over the challenge's nonce."""

    t: Literal[MessageType.HELLO]
    agent_id: str
    signature: str
    version: str
    protocol: int
    facts: dict[str, Any]


class WelcomeFrame(TypedDict):
    """Server → agent: the handshake passed; how often to beat."""

    t: Literal[MessageType.WELCOME]
    heartbeat_s: float
    config: dict[str, Any]


class HeartbeatFrame(TypedDict):
    """Agent → server, every `heartbeat_s`: alive, with its own load and its roles' health."""

    t: Literal[MessageType.HEARTBEAT]
    seq: int
    uptime_s: float
    rss_bytes: int
    cpu_pct: float
    roles_health: dict[str, Any]
    sessions: list[Any]


class JobFrame(TypedDict):
    """Server → agent: a job, signed for this one agent (`protocol.jobs.SIGNED_FIELDS`)."""

    t: Literal[MessageType.JOB]
    job_id: str
    agent_id: str
    role: str
    params: dict[str, Any]
    run_as: str
    timeout_s: float
    not_after: float
    signature: str
    target: NotRequired[dict[str, Any]]  # with `cosign` only: the operator's signature covers it
    cosign: NotRequired[dict[str, Any]]


class JobAcceptedFrame(TypedDict):
    """Agent → server: the job started."""

    t: Literal[MessageType.JOB_ACCEPTED]
    msg_id: NotRequired[str]
    job_id: str
    started_at: NotRequired[str | float]


class JobOutputFrame(TypedDict):
    """Agent → server: a chunk of a running job's output (best effort, not acked)."""

    t: Literal[MessageType.JOB_OUTPUT]
    job_id: str
    stream: Literal["stdout", "stderr"]
    chunk: str
    seq: int


class JobResultFrame(TypedDict):
    """Agent → server: how the job ended; acked once stored."""

    t: Literal[MessageType.JOB_RESULT]
    msg_id: str
    job_id: str
    status: str
    exit_code: int | None
    started_at: str | float | None
    finished_at: str | float | None
    stdout_tail: str
    stderr_tail: str
    data: dict[str, Any] | None
    error: str | None


class JobCancelFrame(TypedDict):
    """Server → agent: stop this job."""

    t: Literal[MessageType.JOB_CANCEL]
    job_id: str


class AckFrame(TypedDict):
    """Server → agent: the reliable frame `msg_id` is stored; the agent drops it from its outbox."""

    t: Literal[MessageType.ACK]
    msg_id: str


class InventorySection(TypedDict):
    """One section of an `inventory` frame (`protocol.inventory`): `data`, or `data_zb64` when large."""

    hash: str
    collected_at: float
    duration_ms: int
    error: str | None
    data: NotRequired[Any]
    data_zb64: NotRequired[str]


class InventoryFrame(TypedDict):
    """Agent → server: the sections that changed; acked once stored."""

    t: Literal[MessageType.INVENTORY]
    msg_id: str
    # Not required so the receiver may take the sections out of the frame while it parses them.
    sections: NotRequired[dict[str, InventorySection]]


class UpdateOfferFrame(TypedDict):
    """Server → agent: a new agent version to install, signed."""

    t: Literal[MessageType.UPDATE_OFFER]
    version: str
    sha256: str
    size: int
    signature: str


class UpdateFetchFrame(TypedDict):
    """Agent → server: send the offered wheel from `offset` on."""

    t: Literal[MessageType.UPDATE_FETCH]
    version: str
    offset: int


class UpdateChunkFrame(TypedDict):
    """Server → agent: a piece of the wheel, base64url."""

    t: Literal[MessageType.UPDATE_CHUNK]
    version: str
    offset: int
    data: str


class UpdateStatusFrame(TypedDict):
    """Agent → server: where its update stands; acked once stored."""

    t: Literal[MessageType.UPDATE_STATUS]
    msg_id: str
    version: str
    state: str
    reason: str | None


class RoleInstallFrame(TypedDict):
    """Server → agent: a role module's source, signed (`protocol.roles.role_install_payload`)."""

    t: Literal[RoleMessage.INSTALL]
    name: str
    version: int
    body: str
    sha256: str
    signature: str


class RoleRemoveFrame(TypedDict):
    """Server → agent: withdraw a role module version, signed (`protocol.roles.role_remove_payload`)."""

    t: Literal[RoleMessage.REMOVE]
    name: str
    version: int
    signature: str


ServerFrame = (
    ChallengeFrame
    | WelcomeFrame
    | JobFrame
    | JobCancelFrame
    | AckFrame
    | UpdateOfferFrame
    | UpdateChunkFrame
    | RoleInstallFrame
    | RoleRemoveFrame
)
AgentFrame = (
    HelloFrame
    | HeartbeatFrame
    | JobAcceptedFrame
    | JobOutputFrame
    | JobResultFrame
    | InventoryFrame
    | UpdateFetchFrame
    | UpdateStatusFrame
)
FRAME_TYPES: dict[str, type[Any]] = {
    MessageType.CHALLENGE: ChallengeFrame,
    MessageType.HELLO: HelloFrame,
    MessageType.WELCOME: WelcomeFrame,
    MessageType.HEARTBEAT: HeartbeatFrame,
    MessageType.JOB: JobFrame,
    MessageType.JOB_ACCEPTED: JobAcceptedFrame,
    MessageType.JOB_OUTPUT: JobOutputFrame,
    MessageType.JOB_RESULT: JobResultFrame,
    MessageType.JOB_CANCEL: JobCancelFrame,
    MessageType.ACK: AckFrame,
    MessageType.INVENTORY: InventoryFrame,
    MessageType.UPDATE_OFFER: UpdateOfferFrame,
    MessageType.UPDATE_CHUNK: UpdateChunkFrame,
    MessageType.UPDATE_FETCH: UpdateFetchFrame,
    MessageType.UPDATE_STATUS: UpdateStatusFrame,
    RoleMessage.INSTALL: RoleInstallFrame,
    RoleMessage.REMOVE: RoleRemoveFrame,
}
