"""Uploaded agent wheels: streamed to `<home>/Server/blobs/agent-versions/<sha256>.whl` under a size
limit, hashed on the way, and read for their version (the wheel's METADATA, never the client's word).

Only pure-Python wheels of the `borealis` distribution that hold the agent worker are accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import hashlib
import os
import re
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from borealis.core.errors import InvalidInput, PayloadTooLarge
from borealis.core.home import Home, ensure_dir
from borealis.protocol import keys
from borealis.protocol.agent_updates import MAX_WHEEL_BYTES, VERSION_PATTERN

BLOB_DIR = "agent-versions"
FILENAME = re.compile(r"borealis-[0-9A-Za-z.+!_]{1,64}-py3-none-any\.whl")
MAX_METADATA_BYTES = 1024 * 1024
REQUIRED_FILES = ("borealis/__init__.py", "borealis/agent/worker.py")


@dataclass(frozen=True)
class ReceivedWheel:
    path: Path  # a temporary file beside the blobs, until `keep` moves it into place
    sha256: str
    size: int
    version: str


def blob_dir(home: Home) -> Path:
    return home.blobs / BLOB_DIR


def blob_path(home: Home, sha256: str) -> Path:
    return blob_dir(home) / f"{sha256}.whl"


def check_filename(filename: str) -> None:
    if not FILENAME.fullmatch(filename):
        raise InvalidInput(
            "filename must name a pure-Python borealis wheel: borealis-<version>-py3-none-any.whl",
            field="filename",
        )


async def receive(home: Home, body: AsyncIterator[bytes], max_bytes: int = MAX_WHEEL_BYTES) -> ReceivedWheel:
    """Stream a request body to a temporary file; the caller `keep`s or `discard`s it."""
    folder = await asyncio.to_thread(ensure_dir, blob_dir(home))
    path = folder / f".upload-{keys.random_token(12)}.tmp"
    digest, size = hashlib.sha256(), 0
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in body:
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"an agent wheel may be at most {max_bytes} bytes")
            digest.update(chunk)
            await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(handle.close)
        if size == 0:
            raise InvalidInput("the request body is empty; send the wheel's bytes")
        version = await asyncio.to_thread(wheel_version, path)
    except BaseException:
        await asyncio.to_thread(handle.close)
        await discard(path)
        raise
    return ReceivedWheel(path, digest.hexdigest(), size, version)


def wheel_version(path: Path) -> str:
    """The version in the wheel's METADATA, after checking it is a borealis agent wheel."""
    try:
        with zipfile.ZipFile(path) as wheel:
            names = set(wheel.namelist())
            metadata = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            if len(metadata) != 1:
                raise InvalidInput("the wheel must hold exactly one .dist-info/METADATA")
            missing = [n for n in REQUIRED_FILES if n not in names]
            if missing:
                raise InvalidInput(f"not an agent wheel: it lacks {', '.join(missing)}")
            info = wheel.getinfo(metadata[0])
            if info.file_size > MAX_METADATA_BYTES:
                raise InvalidInput("the wheel's METADATA is too large")
            text = wheel.read(info).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InvalidInput(f"not a wheel (zip) file: {exc}") from exc
    headers = email.parser.Parser().parsestr(text, headersonly=True)
    name, version = headers.get("Name", ""), headers.get("Version", "")
    if re.sub(r"[-_.]+", "-", str(name)).lower() != "borealis":
        raise InvalidInput(f"the wheel is {name!r}, not borealis")
    if not VERSION_PATTERN.fullmatch(str(version)):
        raise InvalidInput(f"the wheel's METADATA has no usable Version (got {str(version)[:64]!r})")
    return str(version)


async def keep(home: Home, received: ReceivedWheel) -> Path:
    """Move an accepted upload to its blob path (named by content: an identical file is one blob)."""
    target = blob_path(home, received.sha256)
    await asyncio.to_thread(os.replace, received.path, target)
    return target


async def discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        await asyncio.to_thread(path.unlink, True)


def read_chunk(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(length)
