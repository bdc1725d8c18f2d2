"""The inventory contract between agent and server (DESIGN §10): section names, the `inventory`
frame, and the section hash both ends compute the same way.

An agent sends `{"t": "inventory", "msg_id", "sections": {name: Section}}` through its outbox (the
server answers `ack` like any reliable frame). A Section is `{"hash", "collected_at", "duration_ms",
"error", "data"}` where `data` is a list of objects (list sections) or an object; when the JSON of
`data` is larger than `COMPRESS_ABOVE_BYTES` it is sent instead as `data_zb64` (zlib, then base64),
and the receiver refuses anything that inflates past `MAX_SECTION_BYTES`. The JSON of a section's data
must stay inside `SECTION_LIMITS` (size, objects, values, depth): the sender sends a section over them
as an error instead, and the receiver checks them on the inflated bytes before it parses them, and
disconnects a peer that breaks them (`JsonOverLimits`). A section whose collector
failed has `error` set and `data` null; the other sections still arrive. Only sections whose hash
changed since the last acknowledged send are sent, except when a collection was forced (refresh).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import orjson

from borealis.core.errors import ProtocolError
from borealis.protocol.json_bounds import JsonLimits, JsonOverLimits, check_json

SECTIONS = (
    "system",
    "cpu",
    "memory",
    "disks",
    "network",
    "users",
    "processes",
    "services",
    "software",
    "updates",
)
LIST_SECTIONS = frozenset({"disks", "network", "users", "processes", "services", "software", "updates"})
COMPRESS_ABOVE_BYTES = 64 * 1024
MAX_SECTION_BYTES = 16 * 1024 * 1024
MAX_FRAME_BYTES = 900 * 1024
# 50,000 software entries of ~8 fields (the most a section may list) are ~400k values, 50k objects.
SECTION_LIMITS = JsonLimits(
    max_bytes=MAX_SECTION_BYTES, max_containers=250_000, max_values=1_000_000, max_depth=16
)


def canonical(data: Any) -> bytes:
    """The bytes a section's hash is taken over: JSON with sorted keys."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def section_hash(data: Any) -> str:
    """The hex SHA-256 of a section's canonical JSON: equal data, equal hash."""
    return hashlib.sha256(canonical(data)).hexdigest()


def pack_data(data: Any) -> dict[str, Any]:
    """`{"data": ...}` or, for a large section, `{"data_zb64": ...}`; `JsonOverLimits` when the data
    breaks `SECTION_LIMITS` (the receiver would refuse it)."""
    raw = orjson.dumps(data)
    check_json(raw, SECTION_LIMITS)
    if len(raw) <= COMPRESS_ABOVE_BYTES:
        return {"data": data}
    return {"data_zb64": base64.b64encode(zlib.compress(raw, 6)).decode("ascii")}


def unpack_data(section: dict[str, Any]) -> Any:
    """The section's data, inflating `data_zb64` with a bound; `ProtocolError` if it is malformed."""
    packed = section.get("data_zb64")
    if packed is None:
        return section.get("data")
    if not isinstance(packed, str):
        raise ProtocolError("data_zb64 must be a string")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(base64.b64decode(packed, validate=True), MAX_SECTION_BYTES + 1)
    except (ValueError, zlib.error) as exc:
        raise ProtocolError(f"data_zb64 is not valid zlib+base64: {exc}") from exc
    if len(raw) > MAX_SECTION_BYTES or inflater.unconsumed_tail:
        raise JsonOverLimits(f"a section inflates past {MAX_SECTION_BYTES} bytes")
    check_json(raw, SECTION_LIMITS)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("data_zb64 does not hold JSON") from exc
