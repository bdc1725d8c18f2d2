"""The `screenshot` role's contract: its parameters, its image frames, and their bounds (docs/screen.md).

Params   {monitor: 0 (all) | 1..N, region: {x, y, width, height} | null, scale: 0.05..1.0,
          format: png | jpeg | webp, quality: 1..100}
Agent → server  job.blob {msg_id, job_id, seq, total, size, sha256, chunk (base64)}   before job.result
The result's `data.image` is {format, width, height, bytes, sha256}; the server stores the image under
its blobs and serves it to operators with `desktop:view`.
"""

from __future__ import annotations

import hashlib
from base64 import b64encode
from typing import Any

from borealis.core.errors import InvalidInput
from borealis.core.ids import new_id

ROLE = "screenshot"
FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
MAX_IMAGE_BYTES = 8 * 1024 * 1024  # an encoded image; bigger ones fail on the agent with the reason
CHUNK_BYTES = 384 * 1024  # raw bytes per job.blob frame (≈512 KiB of base64: under the 1 MiB frame limit)
MAX_CHUNKS = -(-MAX_IMAGE_BYTES // CHUNK_BYTES)
MAX_SIDE = 16384  # pixels, for a region's width and height
MIN_SCALE, MAX_SCALE = 0.05, 1.0
PARAMS = frozenset({"monitor", "region", "scale", "format", "quality"})
JOB_BLOB = "job.blob"
MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",), "webp": (b"RIFF",)}


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high}", field=f"params.{name}")
    return value


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters with defaults filled in; `InvalidInput` names the first bad one."""
    unknown = sorted(set(params) - PARAMS)
    if unknown:
        raise InvalidInput(f"unknown screenshot parameters {unknown}", field="params")
    monitor = _int(params.get("monitor", 0), "monitor", 0, 64)
    fmt = params.get("format", "png")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {sorted(FORMATS)}, not {fmt!r}", field="params.format")
    quality = _int(params.get("quality", 80), "quality", 1, 100)
    scale = params.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not MIN_SCALE <= scale <= MAX_SCALE:
        raise InvalidInput(
            f"scale must be a number from {MIN_SCALE} to {MAX_SCALE} (a capture is never enlarged)",
            field="params.scale",
        )
    region = params.get("region")
    checked: dict[str, int] | None = None
    if region is not None:
        if not isinstance(region, dict) or set(region) != {"x", "y", "width", "height"}:
            raise InvalidInput("region must be {x, y, width, height}", field="params.region")
        checked = {
            "x": _int(region["x"], "region.x", 0, MAX_SIDE),
            "y": _int(region["y"], "region.y", 0, MAX_SIDE),
            "width": _int(region["width"], "region.width", 1, MAX_SIDE),
            "height": _int(region["height"], "region.height", 1, MAX_SIDE),
        }
    return {"monitor": monitor, "region": checked, "scale": float(scale), "format": fmt, "quality": quality}


def looks_like(fmt: str, data: bytes) -> bool:
    """Whether `data` starts as an image of `fmt` does (the server stores nothing else)."""
    if fmt == "webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return any(data.startswith(magic) for magic in MAGIC.get(fmt, ()))


def blob_frames(job_id: str, blob: bytes) -> list[dict[str, Any]]:
    """A binary result as `job.blob` frames of at most `CHUNK_BYTES` each, SHA-256 and size on each."""
    digest = hashlib.sha256(blob).hexdigest()
    total = max(1, -(-len(blob) // CHUNK_BYTES))
    return [
        {
            "t": JOB_BLOB,
            "msg_id": new_id(),
            "job_id": job_id,
            "seq": seq,
            "total": total,
            "size": len(blob),
            "sha256": digest,
            "chunk": b64encode(blob[seq * CHUNK_BYTES : (seq + 1) * CHUNK_BYTES]).decode(),
        }
        for seq in range(total)
    ]
