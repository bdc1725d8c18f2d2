"""The agent's `inventory` frame (protocol.inventory), checked section by section.

A frame without a usable `msg_id` raises `ProtocolError` (it cannot be acknowledged). Inside it, an
unknown section name is skipped and counted; a section whose shape breaks the contract (data not a
list where `LIST_SECTIONS` says so, too many items, a bad time) is skipped too, so one broken
collector never costs the others. A section whose data breaks the protocol's size, width or depth
limits (`JsonOverLimits`, checked before parsing) is no accident: it ends the whole frame, and the
gateway disconnects the agent.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from borealis.core.clock import utcnow
from borealis.core.errors import ProtocolError
from borealis.core.logs import kv
from borealis.protocol.frames import InventoryFrame
from borealis.protocol.inventory import LIST_SECTIONS, SECTIONS, canonical, section_hash, unpack_data
from borealis.protocol.json_bounds import JsonOverLimits
from borealis.server.jobs.inbound import msg_id_of, when

log = logging.getLogger("borealis.server.inventory")
MAX_ITEMS = 50_000  # a Windows host with every runtime installed lists a few thousand packages
MAX_ERROR_CHARS = 4096
MAX_DURATION_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Incoming:
    """One section as received: its data as canonical JSON bytes (None when its collector failed)
    and our own hash of those bytes. Bytes, not the parsed tree: an upload waiting for its batch
    then holds one object the garbage collector never scans, instead of thousands it scans on every
    full collection (with a backlog of uploads, those scans were what slowed the server down)."""

    name: str
    hash: str
    text: bytes | None
    error: str | None
    collected_at: datetime
    duration_ms: int


@dataclass(frozen=True)
class Upload:
    msg_id: str
    sections: list[Incoming]
    skipped: int


def parse_upload(frame: InventoryFrame) -> Upload:
    """The upload in `frame`. Its sections are taken out of the frame (the caller's dict stays alive
    while the upload waits for its batch, and must not keep the parsed sections with it)."""
    msg_id = msg_id_of(frame, required=True)
    assert msg_id is not None
    sections = frame.pop("sections", None)
    if not isinstance(sections, dict):
        raise ProtocolError("sections must be an object of section name → section")
    parsed: list[Incoming] = []
    skipped = 0
    for name, section in sections.items():
        try:
            parsed.append(parse_section(name, section))
        except JsonOverLimits:
            raise
        except ProtocolError as bad:
            skipped += 1
            log.info("inventory section skipped", extra=kv(section=str(name)[:32], reason=bad.detail))
    return Upload(msg_id, parsed, skipped)


def parse_section(name: object, section: object) -> Incoming:
    if name not in SECTIONS:
        raise ProtocolError("unknown section")
    assert isinstance(name, str)
    if not isinstance(section, dict):
        raise ProtocolError("a section must be an object")
    error = section.get("error")
    if error is not None and not isinstance(error, str):
        raise ProtocolError("error must be a string or null")
    data = unpack_data(section)
    if error is None:
        _check_shape(name, data)
    else:
        data = None  # a failed collector's data is not trusted
    text = None if data is None else canonical(data)
    duration = section.get("duration_ms", 0)
    if not isinstance(duration, int | float) or isinstance(duration, bool) or duration < 0:
        raise ProtocolError("duration_ms must be a non-negative number")
    return Incoming(
        name=name,
        # Ours (section_hash's bytes), so a lying or buggy agent cannot make a change invisible.
        hash=section_hash(None) if text is None else hashlib.sha256(text).hexdigest(),
        text=text,
        error=error[:MAX_ERROR_CHARS] if error else None,
        collected_at=when(section.get("collected_at"), "collected_at") or utcnow(),
        duration_ms=int(min(duration, MAX_DURATION_MS)),
    )


def _check_shape(name: str, data: Any) -> None:
    if name in LIST_SECTIONS:
        if not isinstance(data, list):
            raise ProtocolError(f"{name} must hold a list")
        if len(data) > MAX_ITEMS:
            raise ProtocolError(f"{name} holds more than {MAX_ITEMS} items")
        if not all(isinstance(item, dict) for item in data):
            raise ProtocolError(f"{name} must hold a list of objects")
    elif not isinstance(data, dict):
        raise ProtocolError(f"{name} must hold an object")
