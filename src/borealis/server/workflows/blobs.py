"""Large run payloads (a run's output, a node's input or output) kept as files under
`<home>/Server/blobs/runs/<run id>/` instead of in the database row, and read back for the API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from borealis.core.errors import InvalidInput
from borealis.core.home import ensure_dir, write_atomic

INLINE_PAYLOAD_BYTES = 64 * 1024


class RunBlobs:
    """The payload files of runs, under `blobs/runs/`; references are relative to `blobs/`."""

    def __init__(self, blobs: Path) -> None:
        self._blobs = blobs
        self._runs = blobs / "runs"

    async def payload(self, run_id: str, name: str, value: Any) -> Any:
        """`value` itself, or `{blob_ref, bytes}` when its JSON is large (written under blobs/runs/)."""
        if value is None:
            return None
        data = orjson.dumps(value, default=str)
        if len(data) <= INLINE_PAYLOAD_BYTES:
            return orjson.loads(data)
        path = self._runs / run_id / f"{name}.json"
        await asyncio.to_thread(_write_blob, path, data)
        return {"blob_ref": f"runs/{run_id}/{name}.json", "bytes": len(data)}

    def read(self, ref: str) -> bytes:
        """The bytes behind a `blob_ref`; `InvalidInput` for anything outside `blobs/runs/`."""
        path = (self._blobs / ref).resolve()
        if not str(path).startswith(str(self._runs.resolve()) + "/") or not path.is_file():
            raise InvalidInput("no such payload", field="ref")
        return path.read_bytes()


def _write_blob(path: Path, data: bytes) -> None:
    ensure_dir(path.parent)
    write_atomic(path, data)
