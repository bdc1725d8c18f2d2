"""One connected user-session helper, as the agent sees it: the jobs it runs for us (their output,
binary result and final result coming back over the local socket), and `UserSessionRole`, the role
the job runner executes for a `run_as: user` job.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import logging
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from borealis.agent.roles.contract import (
    JobRequest,
    JobResult,
    OutputSink,
    OutputStream,
    RoleContext,
    RunContext,
)
from borealis.agent.user_session import local_ipc
from borealis.agent.user_session.local_ipc import IpcType
from borealis.agent.user_session.sessions import Session
from borealis.core.errors import ProtocolError
from borealis.core.logs import kv
from borealis.protocol import screen
from borealis.protocol.jobs import FINAL_STATES, MAX_CHUNK_BYTES, MAX_TAIL_BYTES, JobState
from borealis.protocol.screenshot import CHUNK_BYTES, MAX_CHUNKS

DISCONNECTED = "the user-session helper disconnected while the job was running"

log = logging.getLogger("borealis.agent.helpers")


@dataclass
class _Pending:
    output: OutputSink
    result: asyncio.Future[JobResult]
    chunks: list[bytes] = field(default_factory=list)
    total: int = 0
    blob_error: str | None = None


class HelperLink:
    """One connected helper and the jobs it is running for us."""

    def __init__(
        self,
        session: Session,
        pid: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_screen: Callable[[dict[str, Any]], None] = lambda frame: None,
    ):
        self.session = session
        self.pid = pid
        self.on_screen = on_screen
        self._reader = reader
        self._writer = writer
        self._pending: dict[str, _Pending] = {}

    async def run_job(self, request: JobRequest, ctx: RoleContext) -> JobResult:
        future: asyncio.Future[JobResult] = asyncio.get_running_loop().create_future()
        self._pending[request.job_id] = _Pending(ctx.output, future)
        try:
            await local_ipc.send_frame(
                self._writer,
                {
                    "t": IpcType.RUN.value,
                    "job_id": request.job_id,
                    "role": request.role,
                    "params": request.params,
                    "timeout_s": request.timeout_s,
                },
            )
            return await future
        except (OSError, ConnectionError):
            return JobResult(JobState.FAILED, error=DISCONNECTED)
        finally:
            self._pending.pop(request.job_id, None)

    async def cancel(self, job_id: str) -> None:
        if job_id in self._pending:
            with contextlib.suppress(OSError, ConnectionError):
                await local_ipc.send_frame(self._writer, {"t": IpcType.CANCEL.value, "job_id": job_id})

    async def serve(self) -> None:
        """Read the helper's frames until it goes; then every job it held ends `failed`."""
        try:
            while True:
                frame = await local_ipc.read_frame(self._reader)
                if frame is None:
                    return
                self._received(frame)
        except (ProtocolError, OSError, ConnectionError) as exc:
            log.warning("helper connection broken", extra=kv(session=self.session.id, error=str(exc)))
        finally:
            for pending in self._pending.values():
                if not pending.result.done():
                    pending.result.set_result(JobResult(JobState.FAILED, error=DISCONNECTED))
            await local_ipc.close_quietly(self._writer)

    async def close(self) -> None:
        await local_ipc.close_quietly(self._writer)

    async def send(self, frame: dict[str, Any]) -> None:
        """A live-view frame to the helper (start, ack, stop)."""
        await local_ipc.send_frame(self._writer, frame)

    def _received(self, frame: dict[str, Any]) -> None:
        if frame.get("t") in screen.AGENT_TO_SERVER:
            self.on_screen(frame)
            return
        pending = self._pending.get(str(frame.get("job_id")))
        if pending is None:
            return
        kind = frame.get("t")
        if kind == IpcType.OUTPUT:
            chunk, stream = frame.get("chunk"), frame.get("stream")
            if (
                isinstance(chunk, str)
                and len(chunk) <= 4 * MAX_CHUNK_BYTES
                and stream in ("stdout", "stderr")
            ):
                pending.output(OutputStream(stream), chunk)
        elif kind == IpcType.BLOB:
            _take_chunk(pending, frame)
        elif kind == IpcType.RESULT and not pending.result.done():
            result = _result_of(frame)
            if pending.blob_error is not None:
                result = JobResult(JobState.FAILED, error=pending.blob_error)
            elif pending.chunks:
                if len(pending.chunks) != pending.total:
                    result = JobResult(JobState.FAILED, error="the helper sent an incomplete image")
                else:
                    result.blob = b"".join(pending.chunks)
            pending.result.set_result(result)


def _take_chunk(pending: _Pending, frame: dict[str, Any]) -> None:
    """One piece of a binary result, in order and within the bounds, else the job fails with why."""
    seq, total, chunk = frame.get("seq"), frame.get("total"), frame.get("chunk")
    if pending.blob_error is not None:
        return
    try:
        if (
            not isinstance(total, int)
            or not 0 < total <= MAX_CHUNKS
            or (pending.total and total != pending.total)
        ):
            raise ValueError(f"total must be 1..{MAX_CHUNKS}")
        if seq != len(pending.chunks) or not isinstance(chunk, str):
            raise ValueError("pieces out of order")
        data = b64decode(chunk, validate=True)
        if len(data) > CHUNK_BYTES:
            raise ValueError("a piece over the size bound")
    except (ValueError, binascii.Error) as exc:
        pending.chunks.clear()
        pending.blob_error = f"the helper sent a malformed image: {exc}"
        return
    pending.total = total
    pending.chunks.append(data)


def _result_of(frame: dict[str, Any]) -> JobResult:
    try:
        status = JobState(str(frame.get("status")))
    except ValueError:
        status = JobState.RUNNING
    if status not in FINAL_STATES:
        return JobResult(JobState.FAILED, error="the helper sent a result without a final status")
    code = frame.get("exit_code")
    data = frame.get("data")
    error = frame.get("error")
    return JobResult(
        status=status,
        exit_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        stdout_tail=_text(frame.get("stdout_tail"), 4 * MAX_TAIL_BYTES),
        stderr_tail=_text(frame.get("stderr_tail"), 4 * MAX_TAIL_BYTES),
        data=data if isinstance(data, dict) else None,
        error=_text(error, 4096) or None,
    )


def _text(value: object, limit: int) -> str:
    return value[-limit:] if isinstance(value, str) else ""


class UserSessionRole:
    """A role as the job runner sees it, executed by a helper in the user's session."""

    contexts = frozenset({RunContext.USER})

    def __init__(self, name: str, link: HelperLink) -> None:
        self.name = name
        self._link = link

    async def start(self, ctx: RoleContext) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def execute(self, request: JobRequest, ctx: RoleContext) -> JobResult:
        log.info(
            "job sent to the user-session helper",
            extra=kv(job_id=request.job_id, session=self._link.session.id, user=self._link.session.user),
        )
        return await self._link.run_job(request, ctx)

    async def cancel(self, job_id: str) -> None:
        await self._link.cancel(job_id)
