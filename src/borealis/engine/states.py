"""The states of a workflow run and of one node attempt; the string values are what the API shows and
the database stores.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """A run is `queued` until a server process claims it, then `running` until it is final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def final(self) -> bool:
        """Whether the run has ended (nothing changes it any more)."""
        return self in FINAL_RUN_STATES


FINAL_RUN_STATES = frozenset(
    {
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.TIMED_OUT,
        RunState.CANCELLED,
        RunState.INTERRUPTED,
    }
)


class NodeRunState(StrEnum):
    """How one attempt of one node ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
