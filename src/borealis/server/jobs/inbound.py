"""Agent → server job frames, checked field by field. Anything malformed raises `ProtocolError`;
the service logs it and ignores the frame (the connection stays up)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from borealis.core.clock import utcnow
from borealis.core.errors import ProtocolError
from borealis.protocol.frames import JobAcceptedFrame, JobOutputFrame, JobResultFrame
from borealis.protocol.jobs import FINAL_STATES, MAX_CHUNK_BYTES, MAX_TAIL_BYTES, JobState
from borealis.server.jobs.output import keep_tail
from borealis.server.jobs.store import Finish

JOB_ID = re.compile(r"[0-9a-f]{32}")
MAX_MSG_ID = 128
REPLAY_REFUSAL = "replayed job"  # how an agent's refusal of a job id it received before begins
MAX_ERROR_CHARS = 4096
MAX_DATA_BYTES = 256 * 1024
# Texts are counted in characters here; a character is at most 4 UTF-8 bytes.
MAX_CHUNK_CHARS = 4 * MAX_CHUNK_BYTES
MAX_TAIL_CHARS = 4 * MAX_TAIL_BYTES * 16  # generous: the server keeps its own (configurable) tail


@dataclass(frozen=True)
class Accepted:
    msg_id: str | None
    job_id: str
    started_at: datetime


@dataclass(frozen=True)
class Output:
    job_id: str
    stream: str
    chunk: str
    seq: int


@dataclass(frozen=True)
class Result:
    msg_id: str | None
    job_id: str
    finish: Finish


def job_id_of(frame: Mapping[str, object]) -> str:
    value = frame.get("job_id")
    if not isinstance(value, str) or not JOB_ID.fullmatch(value):
        raise ProtocolError("job_id must be a job's id")
    return value


def msg_id_of(frame: Mapping[str, object], required: bool) -> str | None:
    value = frame.get("msg_id")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_MSG_ID:
        raise ProtocolError("msg_id must be a short string")
    return value


def when(value: object, name: str) -> datetime | None:
    """Unix seconds (int or float) or an ISO 8601 text; None when absent."""
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e11:
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str) and len(value) <= 64:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise ProtocolError(f"{name} must be unix seconds or an ISO time")


def text(frame: Mapping[str, object], name: str, max_chars: int) -> str:
    value = frame.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_chars:
        raise ProtocolError(f"{name} must be a string of at most {max_chars} characters")
    return value


def parse_accepted(frame: JobAcceptedFrame) -> Accepted:
    started = when(frame.get("started_at"), "started_at") or utcnow()
    return Accepted(msg_id_of(frame, required=False), job_id_of(frame), started)


def parse_output(frame: JobOutputFrame) -> Output:
    stream = frame.get("stream")
    if stream not in ("stdout", "stderr"):
        raise ProtocolError("stream must be stdout or stderr")
    seq = frame.get("seq", 0)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ProtocolError("seq must be a non-negative integer")
    return Output(job_id_of(frame), str(stream), text(frame, "chunk", MAX_CHUNK_CHARS), seq)


def parse_result(frame: JobResultFrame, max_output_bytes: int) -> Result:
    try:
        status = JobState(str(frame.get("status")))
    except ValueError as exc:
        raise ProtocolError("status must be a job state") from exc
    if status not in FINAL_STATES:
        raise ProtocolError(f"a result's status must be final, not {status.value}")
    exit_code = frame.get("exit_code")
    if exit_code is not None and (
        not isinstance(exit_code, int) or isinstance(exit_code, bool) or not -(2**31) <= exit_code < 2**32
    ):
        raise ProtocolError("exit_code must be an integer or null")
    if isinstance(exit_code, int) and exit_code >= 2**31:  # Windows codes such as 0xC0000005
        exit_code -= 2**32
    data = frame.get("data")
    if data is not None and (not isinstance(data, dict) or len(orjson.dumps(data)) > MAX_DATA_BYTES):
        raise ProtocolError(f"data must be an object of at most {MAX_DATA_BYTES} bytes")
    error = frame.get("error")
    if error is not None and not isinstance(error, str):
        raise ProtocolError("error must be a string or null")
    flags: list[str] = []
    stdout, cut = keep_tail(text(frame, "stdout_tail", MAX_TAIL_CHARS), max_output_bytes)
    if cut:
        flags.append("stdout_truncated")
    stderr, cut = keep_tail(text(frame, "stderr_tail", MAX_TAIL_CHARS), max_output_bytes)
    if cut:
        flags.append("stderr_truncated")
    if isinstance(data, dict):
        flags += [
            name
            for name in ("stdout_truncated", "stderr_truncated")
            if data.get(name) is True and name not in flags
        ]
    finish = Finish(
        status=status,
        exit_code=exit_code,
        started_at=when(frame.get("started_at"), "started_at"),
        finished_at=when(frame.get("finished_at"), "finished_at") or utcnow(),
        stdout=stdout,
        stderr=stderr,
        flags=flags,
        data=data,
        error=keep_tail(error, MAX_ERROR_CHARS)[0] if error else None,
    )
    return Result(msg_id_of(frame, required=True), job_id_of(frame), finish)


def is_replay_refusal(finish: Finish) -> bool:
    """A refusal of a job the agent received before: not an outcome of the job (see docs/jobs.md)."""
    return finish.status == JobState.FAILED and (finish.error or "").startswith(REPLAY_REFUSAL)
