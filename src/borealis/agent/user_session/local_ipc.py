"""The local socket between the agent and its user-session helpers (DESIGN §2).

Frames are a 4-byte big-endian length and a JSON object, at most `MAX_FRAME_BYTES`. Both ends learn
who is on the other side from the kernel (`SO_PEERCRED`), never from what the peer says. On Linux
the socket lives in the abstract namespace (nothing on disk, no folder permissions for a user to
traverse); its name is derived from the agent's home, so `borealis helper --home H` finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import struct
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from borealis.core.errors import ProtocolError
from borealis.core.home import Home

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 2 * 1024 * 1024
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


class IpcType(StrEnum):
    """The `t` of a frame on the helper socket (besides the `screen.*` frames live view relays)."""

    HELLO = "hello"  # helper → agent: its session, pid and uid (checked against SO_PEERCRED)
    WELCOME = "welcome"  # agent → helper: accepted
    REFUSED = "refused"  # agent → helper: not accepted, with the reason
    RUN = "run"  # agent → helper: run a job's role in this session
    CANCEL = "cancel"  # agent → helper: stop that job
    OUTPUT = "output"  # helper → agent: a chunk of the job's stdout or stderr
    BLOB = "blob"  # helper → agent: the job's binary result (a screenshot), before its result
    RESULT = "result"  # helper → agent: the job ended


@dataclass(frozen=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int


def helper_address(home: Home, override: str = "") -> str:
    """Where the agent listens for helpers: `override`, else an abstract name (Linux) or a file."""
    if override:
        return parse_address(override)
    if sys.platform.startswith("linux"):
        digest = hashlib.sha256(str(home.root).encode("utf-8")).hexdigest()[:20]
        return f"\0borealis-helper-{digest}"
    return str(home.agent / "run" / "helper.sock")


def parse_address(text: str) -> str:
    """`@name` is a Linux abstract socket (written with a NUL byte inside), anything else a path."""
    return "\0" + text[1:] if text.startswith("@") else text


def describe(address: str) -> str:
    return "@" + address[1:] if address.startswith("\0") else address


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The kernel's word on the connected process. Only Linux has `SO_PEERCRED` in Python's stdlib."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        raise ProtocolError("peer credentials are not available on this platform")
    pid, uid, gid = _CREDENTIALS.unpack(sock.getsockopt(socket.SOL_SOCKET, option, _CREDENTIALS.size))
    return PeerCredentials(pid, uid, gid)


def writer_credentials(writer: asyncio.StreamWriter) -> PeerCredentials:
    sock = writer.get_extra_info("socket")
    if sock is None:
        raise ProtocolError("the connection has no socket")
    # asyncio hands out a TransportSocket; getsockopt is all we need from it.
    return peer_credentials(sock)


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame, or None at a clean end of stream. A malformed frame raises ProtocolError."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("the peer closed in the middle of a frame") from exc
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(f"a frame of {size} bytes is over the {MAX_FRAME_BYTES}-byte limit")
    try:
        body = await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("the peer closed in the middle of a frame") from exc
    try:
        frame = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("a frame is not JSON") from exc
    if not isinstance(frame, dict):
        raise ProtocolError("a frame must be a JSON object")
    return frame


def encode_frame(message: dict[str, Any]) -> bytes:
    body = orjson.dumps(message)
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"a frame of {len(body)} bytes is over the {MAX_FRAME_BYTES}-byte limit")
    return HEADER.pack(len(body)) + body


async def send_frame(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(encode_frame(message))
    await writer.drain()


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ConnectionError):
        await writer.wait_closed()


def prepare_address(address: str) -> None:
    """For a file socket: its folder exists, and a stale socket file from a dead agent is gone."""
    if address.startswith("\0"):
        return
    folder = os.path.dirname(address)
    if folder:
        os.makedirs(folder, mode=0o755, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)
