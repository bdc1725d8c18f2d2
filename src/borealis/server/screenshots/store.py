"""Screenshot images on disk: `<home>/Server/blobs/screenshots/<job_id>/<agent_id>.<format>`.

`job.blob` frames (protocol/screenshot.py) are accepted only from an agent that holds a `screenshot`
job; pieces are written as they come and joined when the last one is in, then kept only if the whole
image has the announced size and SHA-256 and starts like an image of its kind. Every frame is acked
(a refused one too, so an agent does not re-send it forever); refusals are logged and counted.
Images older than `screenshot_retention_days` are deleted by housekeeping.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import logging
import re
import shutil
import time
from base64 import b64decode
from pathlib import Path
from typing import Any

from borealis.core.errors import NotFound, ProtocolError
from borealis.core.logs import kv
from borealis.protocol import screenshot
from borealis.server.db.database import Database
from borealis.server.jobs import store as jobs_store
from borealis.server.jobs.frames import ack_frame
from borealis.server.jobs.holders import Holders
from borealis.server.jobs.inbound import job_id_of, msg_id_of
from borealis.server.presence import Sender

AGENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SHA256 = re.compile(r"[0-9a-f]{64}")

log = logging.getLogger("borealis.server.screenshots")


class ScreenshotStore:
    def __init__(self, blobs: Path, db: Database, holders: Holders, retention_days: float) -> None:
        self.root = blobs / "screenshots"
        self.db = db
        self.holders = holders
        self.retention_s = retention_days * 86400
        self.refused = 0
        self.stored = 0
        self._roles: dict[str, str] = {}

    def path_of(self, job_id: str, agent_id: str, fmt: str) -> Path:
        return self.root / job_id / f"{agent_id}.{fmt}"

    async def on_frame(self, agent_id: str, frame: dict[str, Any], reply: Sender) -> None:
        """One `job.blob` frame from the gateway; never raises for a bad frame."""
        msg_id: str | None = None
        try:
            msg_id = msg_id_of(frame, required=True)
            job_id = job_id_of(frame)
            if not await self._asked(agent_id, job_id):
                raise ProtocolError("an image for a job this agent does not hold, or not a screenshot job")
            await asyncio.to_thread(self._take, agent_id, job_id, frame)
        except ProtocolError as bad:
            self.refused += 1
            log.warning("image piece refused", extra=kv(agent_id=agent_id, reason=bad.detail))
        if msg_id is not None:
            await reply(ack_frame(msg_id))

    async def _asked(self, agent_id: str, job_id: str) -> bool:
        if not await self.holders.holds(agent_id, job_id):
            return False
        role = self._roles.get(job_id)
        if role is None:
            async with self.db.session() as session:
                role = (await jobs_store.get_job(session, job_id)).role
            if len(self._roles) > 10_000:
                self._roles.clear()
            self._roles[job_id] = role
        return role == screenshot.ROLE

    def _take(self, agent_id: str, job_id: str, frame: dict[str, Any]) -> None:
        seq, total, size, digest = (
            frame.get("seq"),
            frame.get("total"),
            frame.get("size"),
            frame.get("sha256"),
        )
        if not isinstance(total, int) or isinstance(total, bool) or not 0 < total <= screenshot.MAX_CHUNKS:
            raise ProtocolError(f"total must be 1..{screenshot.MAX_CHUNKS}")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < total:
            raise ProtocolError("seq must be 0..total-1")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= screenshot.MAX_IMAGE_BYTES:
            raise ProtocolError(f"size must be 1..{screenshot.MAX_IMAGE_BYTES} bytes")
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise ProtocolError("sha256 must be 64 hex digits")
        chunk = frame.get("chunk")
        if not isinstance(chunk, str) or len(chunk) > 2 * screenshot.CHUNK_BYTES:
            raise ProtocolError("chunk must be base64 of at most one piece")
        try:
            data = b64decode(chunk, validate=True)
        except (ValueError, binascii.Error):
            raise ProtocolError("chunk is not base64") from None
        if len(data) > screenshot.CHUNK_BYTES:
            raise ProtocolError("a piece over the size bound")
        if not AGENT_ID.fullmatch(agent_id):
            raise ProtocolError("unexpected agent id")
        parts = self.root / job_id / f".{agent_id}.parts"
        parts.mkdir(parents=True, exist_ok=True)
        (parts / f"{seq:04d}").write_bytes(data)
        pieces = sorted(parts.iterdir())
        if len(pieces) < total:
            return
        whole = b"".join(p.read_bytes() for p in pieces[:total])
        shutil.rmtree(parts, ignore_errors=True)
        fmt = next((f for f in screenshot.FORMATS if screenshot.looks_like(f, whole)), None)
        if len(whole) != size or hashlib.sha256(whole).hexdigest() != digest or fmt is None:
            raise ProtocolError("the image does not match its announced size, SHA-256 or format")
        target = self.path_of(job_id, agent_id, fmt)
        staging = target.with_suffix(".tmp")
        staging.write_bytes(whole)
        staging.replace(target)
        self.stored += 1
        log.info("screenshot stored", extra=kv(agent_id=agent_id, job_id=job_id, bytes=size, format=fmt))

    async def read(self, job_id: str, agent_id: str, image: Any) -> tuple[bytes, str]:
        """The stored image described by a result's `data.image`, with its media type."""
        fmt = image.get("format") if isinstance(image, dict) else None
        if fmt not in screenshot.FORMATS or not AGENT_ID.fullmatch(agent_id):
            raise NotFound("this result has no image")
        path = self.path_of(job_id, agent_id, str(fmt))
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError:
            raise NotFound("the image has not reached the server, or was deleted by retention") from None
        return data, screenshot.FORMATS[str(fmt)]

    async def prune(self) -> int:
        """Delete the images of jobs older than the retention; returns how many folders went."""
        return await asyncio.to_thread(self._prune, time.time() - self.retention_s)

    def _prune(self, before: float) -> int:
        if not self.root.is_dir():
            return 0
        gone = 0
        for folder in self.root.iterdir():
            try:
                if folder.stat().st_mtime < before:
                    shutil.rmtree(folder, ignore_errors=True)
                    gone += 1
            except OSError:
                continue
        return gone
