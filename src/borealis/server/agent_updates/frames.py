"""Server → agent update frames, and the parsing of what agents send about updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from borealis.core.errors import ProtocolError
from borealis.protocol.agent_updates import (
    AGENT_REPORTED,
    MAX_REASON_CHARS,
    VERSION_PATTERN,
    UpdateState,
    encode_chunk,
)
from borealis.protocol.messages import MessageType
from borealis.server.db.models import AgentVersion


def offer_frame(row: AgentVersion) -> str:
    return orjson.dumps(
        {
            "t": MessageType.UPDATE_OFFER.value,
            "version": row.version,
            "sha256": row.sha256,
            "size": row.size,
            "signature": row.signature,
        }
    ).decode()


def chunk_frame(version: str, offset: int, data: bytes) -> str:
    return orjson.dumps(
        {
            "t": MessageType.UPDATE_CHUNK.value,
            "version": version,
            "offset": offset,
            "data": encode_chunk(data),
        }
    ).decode()


@dataclass(frozen=True)
class Fetch:
    version: str
    offset: int


@dataclass(frozen=True)
class Status:
    msg_id: str
    version: str
    state: UpdateState
    reason: str | None


def _version(frame: dict[str, Any]) -> str:
    version = frame.get("version")
    if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
        raise ProtocolError("update frame without a usable version")
    return version


def parse_fetch(frame: dict[str, Any]) -> Fetch:
    offset = frame.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ProtocolError("update.fetch needs a non-negative integer offset")
    return Fetch(_version(frame), offset)


def parse_status(frame: dict[str, Any]) -> Status:
    msg_id, state, reason = frame.get("msg_id"), frame.get("state"), frame.get("reason")
    if not isinstance(msg_id, str) or not 0 < len(msg_id) <= 64:
        raise ProtocolError("update.status needs a msg_id")
    try:
        reported = UpdateState(str(state))
    except ValueError:
        raise ProtocolError(f"unknown update state {str(state)[:32]!r}") from None
    if reported not in AGENT_REPORTED:
        raise ProtocolError(f"an agent cannot report {reported.value!r}")
    if reason is not None and not isinstance(reason, str):
        raise ProtocolError("update.status reason must be a string")
    return Status(msg_id, _version(frame), reported, reason[:MAX_REASON_CHARS] if reason else None)
