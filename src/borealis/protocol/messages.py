"""Agent protocol messages (DESIGN §6): type tags, close codes and the signed payloads.

Frames are JSON objects with a type `t`. What gets signed is built here, once, so both ends agree
byte for byte.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any

from borealis.core.errors import ProtocolError

AGENT_WS_PATH = "/api/v1/agent/ws"
ENROLL_PATH = "/api/v1/enroll"


class MessageType(StrEnum):
    """The `t` tag of every WebSocket frame between agent and server."""

    CHALLENGE = "challenge"
    HELLO = "hello"
    WELCOME = "welcome"
    HEARTBEAT = "heartbeat"
    JOB = "job"
    JOB_ACCEPTED = "job.accepted"
    JOB_OUTPUT = "job.output"
    JOB_RESULT = "job.result"
    JOB_CANCEL = "job.cancel"
    ACK = "ack"
    INVENTORY = "inventory"
    UPDATE_OFFER = "update.offer"
    UPDATE_CHUNK = "update.chunk"
    UPDATE_FETCH = "update.fetch"
    UPDATE_STATUS = "update.status"


class CloseCode(IntEnum):
    """WebSocket close codes the gateway uses; the agent decides how long to stay away from these."""

    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY = 1008
    TOO_BIG = 1009
    SERVER_ERROR = 1011
    BAD_HELLO = 4400
    UNKNOWN_AGENT = 4401
    REVOKED = 4403
    REPLACED = 4409
    PENDING_APPROVAL = 4423
    PROTOCOL_TOO_OLD = 4426

    @property
    def permanent(self) -> bool:
        """The server will keep refusing until an operator acts: retry slowly."""
        return self in (CloseCode.UNKNOWN_AGENT, CloseCode.REVOKED, CloseCode.PROTOCOL_TOO_OLD)


def challenge_payload(nonce: str, server_time: float, protocol: int) -> bytes:
    """What the server signs in `challenge`, so the agent knows it reached the pinned server."""
    return f"borealis-challenge|{protocol}|{nonce}|{server_time:.3f}".encode()


def hello_payload(nonce: str, agent_id: str) -> bytes:
    """What the agent signs in `hello`: bound to this connection's nonce, so it cannot be replayed."""
    return f"borealis-hello|{agent_id}|{nonce}".encode()


def require(message: Any, expected: MessageType) -> dict[str, Any]:
    """The message when it is a frame of the `expected` type; `ProtocolError` otherwise."""
    if not isinstance(message, dict) or message.get("t") != expected:
        got = message.get("t") if isinstance(message, dict) else type(message).__name__
        raise ProtocolError(
            f"expected {expected.value}, got {str(got)[:32]!r}", close_code=CloseCode.BAD_HELLO
        )
    return message


def field_str(message: dict[str, Any], name: str, max_len: int = 512) -> str:
    """A required, non-empty string field of at most `max_len` characters."""
    value = message.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ProtocolError(f"field {name!r} must be a non-empty string", close_code=CloseCode.BAD_HELLO)
    return value
