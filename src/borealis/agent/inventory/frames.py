"""Packing collected sections into `inventory` frames no larger than `MAX_FRAME_BYTES` each.

Large sections travel compressed (`pack_data`); sections are packed into as few frames as fit, in
section order. A section too large even on its own, or whose data breaks the protocol's
`SECTION_LIMITS` (which the server would disconnect for), is sent as an error, so the server learns why.
"""

from __future__ import annotations

from typing import Any

import orjson

from borealis.core.ids import new_id
from borealis.protocol.inventory import MAX_FRAME_BYTES, SECTIONS, pack_data, section_hash
from borealis.protocol.json_bounds import JsonOverLimits
from borealis.protocol.messages import MessageType

FRAME_OVERHEAD_BYTES = 256  # the envelope, the msg_id and the section's key


def wire_section(section: dict[str, Any]) -> dict[str, Any]:
    """The section as sent: `data` replaced by `pack_data`'s choice."""
    sent = {key: value for key, value in section.items() if key != "data"}
    sent.update(pack_data(section["data"]))
    return sent


def _as_error(section: dict[str, Any], error: str) -> dict[str, Any]:
    return {
        **{key: value for key, value in section.items() if key not in ("data", "data_zb64")},
        "hash": section_hash(None),
        "error": error,
        "data": None,
    }


def build_frames(sections: dict[str, dict[str, Any]], limit: int = MAX_FRAME_BYTES) -> list[dict[str, Any]]:
    """Blocking (compression): run in a thread. `sections` maps names to collected sections."""
    frames: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    used = 0
    for name in sorted(sections, key=SECTIONS.index):
        try:
            sent = wire_section(sections[name])
        except JsonOverLimits as over:
            sent = _as_error(sections[name], f"the section is too large to send: {over.detail}")
        size = len(orjson.dumps(sent)) + FRAME_OVERHEAD_BYTES
        if size > limit:
            error = f"the section is {size} bytes even compressed, more than a frame may carry ({MAX_FRAME_BYTES})"
            sent = _as_error(sent, error)
            size = len(orjson.dumps(sent)) + FRAME_OVERHEAD_BYTES
        if current and used + size > limit:
            frames.append(_frame(current))
            current, used = {}, 0
        current[name] = sent
        used += size
    if current:
        frames.append(_frame(current))
    return frames


def _frame(sections: dict[str, Any]) -> dict[str, Any]:
    return {"t": MessageType.INVENTORY.value, "msg_id": new_id(), "sections": sections}
