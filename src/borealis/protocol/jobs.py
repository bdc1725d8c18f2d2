"""The job contract (DESIGN §6.3–6.4, §9): states, messages, and the bytes the server signs.

Server → agent   job        {job_id, agent_id, role, params, run_as, timeout_s, not_after, signature}
                 job.cancel {job_id}
                 ack        {msg_id}                      for every agent message that carries a msg_id
Agent → server   job.accepted {msg_id, job_id, started_at}
                 job.output   {job_id, stream: stdout|stderr, chunk, seq}      best effort, bounded
                 job.result   {msg_id, job_id, status, exit_code, started_at, finished_at,
                               stdout_tail, stderr_tail, data, error}
Results stay in the agent's outbox until acked and are re-sent after a reconnect; the server stores
them idempotently (one row per job and agent). A refused job (bad signature, expired, replayed, role
not allowed) comes back as a `job.result` with status `failed` and an `error` saying why.
A job whose row is still `sent` when the agent reconnects is sent again (the first frame may have been
lost); a refusal of such a duplicate whose `error` begins with "replayed job" is acked and ignored by
the server, since the agent's outbox carries the real outcome of the first copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson

MAX_CHUNK_BYTES = 16 * 1024
MAX_TAIL_BYTES = 64 * 1024


class JobState(StrEnum):
    """Where a job, or one agent's run of it, stands."""

    QUEUED = "queued"
    SENT = "sent"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"

    @property
    def final(self) -> bool:
        """Whether nothing more will happen in this state."""
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.TIMED_OUT,
        JobState.CANCELLED,
        JobState.EXPIRED,
        JobState.INTERRUPTED,
    }
)


class RunAs(StrEnum):
    """The account a job runs under on the agent."""

    SYSTEM = "system"
    USER = "user"


SIGNED_FIELDS = ("job_id", "agent_id", "role", "params", "run_as", "timeout_s", "not_after")


def job_payload(job: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a job's signed fields (sorted keys, no whitespace): what the server signs."""
    body = {name: job.get(name) for name in SIGNED_FIELDS}
    return b"borealis-job|" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
