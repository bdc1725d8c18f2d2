"""The agent self-update contract (issue 5 part 3): frames, per-agent states, the signed payload.

Server → agent   update.offer  {version, sha256, size, signature}
                 update.chunk  {version, offset, data}          data: base64url of at most CHUNK_BYTES
Agent → server   update.fetch  {version, offset}                 one chunk asked for at a time
                 update.status {msg_id, version, state, reason}  through the outbox; the server acks it

The signature is the server key's over `update_payload(version, sha256, size)`; the agent verifies it
with the key pinned at enrollment before it fetches a byte, and checks the sha256 and the size of what
it fetched before it installs anything. The server decides success from the `version` an agent
reports in `hello` after the switch.
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum

CHUNK_BYTES = 256 * 1024  # base64 makes ~342 KiB: well under the 1 MiB frame limit of both ends
MAX_WHEEL_BYTES = 50 * 1024 * 1024
MAX_REASON_CHARS = 1000
VERSION_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+!_]{0,31}")  # 32: what `hello` carries
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


class UpdateState(StrEnum):
    """One agent's progress in a rollout. The agent reports the middle ones; the server the rest."""

    PENDING = "pending"  # waiting for a free slot in the batch (or for the agent to connect)
    OFFERED = "offered"  # the offer went out
    DOWNLOADING = "downloading"
    INSTALLED = "installed"  # verified and installed beside the running version
    SWITCHING = "switching"  # the worker is restarting from the new version
    CONNECTED = "connected"  # the agent said hello with the new version: success
    FAILED = "failed"  # refused or could not install; `reason` says why
    ROLLED_BACK = "rolled_back"  # the new version did not connect in time; the old one runs again
    TIMED_OUT = "timed_out"  # no word from the agent within the server's deadline
    CANCELLED = "cancelled"  # the rollout was cancelled before this agent's turn

    @property
    def final(self) -> bool:
        """Whether this agent's update has ended, one way or another."""
        return self in FINAL_STATES

    @property
    def in_flight(self) -> bool:
        """Whether the agent is between the offer and its answer (it counts against the batch)."""
        return self in IN_FLIGHT_STATES


FINAL_STATES = frozenset(
    {
        UpdateState.CONNECTED,
        UpdateState.FAILED,
        UpdateState.ROLLED_BACK,
        UpdateState.TIMED_OUT,
        UpdateState.CANCELLED,
    }
)
IN_FLIGHT_STATES = frozenset(
    {UpdateState.OFFERED, UpdateState.DOWNLOADING, UpdateState.INSTALLED, UpdateState.SWITCHING}
)
# What an agent may report in update.status (`connected`: it already runs the offered version).
AGENT_REPORTED = frozenset(
    {
        UpdateState.DOWNLOADING,
        UpdateState.INSTALLED,
        UpdateState.SWITCHING,
        UpdateState.CONNECTED,
        UpdateState.FAILED,
        UpdateState.ROLLED_BACK,
    }
)


def update_payload(version: str, sha256: str, size: int) -> bytes:
    """What the server signs for an offered agent version."""
    return f"borealis-agent-update|{version}|{sha256}|{size}".encode()


def encode_chunk(data: bytes) -> str:
    """One `update.chunk`'s bytes as the frame carries them: base64url."""
    return base64.urlsafe_b64encode(data).decode()


def decode_chunk(text: str) -> bytes | None:
    """The bytes of an `update.chunk`, or None when it is not base64url or larger than CHUNK_BYTES."""
    if len(text) > (CHUNK_BYTES // 3 + 1) * 4:
        return None
    try:
        data = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, binascii.Error):
        return None
    return data if len(data) <= CHUNK_BYTES else None


def wheel_filename(version: str) -> str:
    """The name the agent gives the fetched file, so pip accepts it (the agent is pure Python)."""
    return f"borealis-{version}-py3-none-any.whl"
