"""The role contract (DESIGN §8): what a role is, what it is given, and what it gives back.

A role is any object with `name`, `contexts` and the four async hooks below; `typing.Protocol`
checks the shape, so a role needs no Borealis base class. The job runner owns the deadline: when it
passes or the server cancels, the runner calls `cancel(job_id)` and gives the role a short grace to
return what it has before cancelling the `execute` task itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from borealis.core.errors import BorealisError
from borealis.protocol.jobs import JobState

if TYPE_CHECKING:
    from borealis.agent.inventory.service import InventoryService


class RunContext(StrEnum):
    """Where a role can run: as the agent's own account, or in a logged-in user's session."""

    SYSTEM = "system"
    USER = "user"


class OutputStream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


OutputSink = Callable[[OutputStream, str], None]
ProcessSink = Callable[[int], None]


@dataclass(frozen=True)
class JobRequest:
    """A verified job as a role sees it. `timeout_s` is the deadline the runner enforces."""

    job_id: str
    role: str
    params: dict[str, Any]
    run_as: RunContext
    timeout_s: float


@dataclass
class JobResult:
    status: JobState
    exit_code: int | None = None
    stdout_tail: str = ""
    stderr_tail: str = ""
    data: dict[str, Any] | None = None
    error: str | None = None
    blob: bytes | None = None  # a binary result (a screenshot), sent as `job.blob` frames before the result


@dataclass(frozen=True)
class RoleContext:
    """What the agent hands a role: its home's folders and, per job, where streamed output goes and
    `process_started(pid)`, to call for each process-group leader the job starts: if the worker dies,
    the next one ends that group. `inventory` is the agent's inventory service (the `inventory` and
    `updates` roles collect and send through it), when the agent runs one."""

    agent_id: str
    home_root: Path
    tmp_dir: Path
    output: OutputSink = field(default=lambda stream, chunk: None)
    process_started: ProcessSink = field(default=lambda pid: None)
    inventory: InventoryService | None = None

    def for_job(self, output: OutputSink, process_started: ProcessSink) -> RoleContext:
        return replace(self, output=output, process_started=process_started)


class RoleError(BorealisError):
    """A role refuses a request it cannot run (bad params, missing interpreter): the job `failed`."""


@runtime_checkable
class Role(Protocol):
    name: str
    contexts: frozenset[RunContext]

    async def start(self, ctx: RoleContext) -> None: ...

    async def execute(self, request: JobRequest, ctx: RoleContext) -> JobResult: ...

    async def cancel(self, job_id: str) -> None: ...

    async def stop(self) -> None: ...
