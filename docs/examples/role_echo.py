"""A drop-in role for Borealis agents: copy to `<home>/Agent/Roles/role_echo.py`.

It answers `{"text": ..., "delay_s": ...}` with the text (upper-cased when `shout` is true), after
an optional delay, and streams it as output. The agent loads it without a restart, and re-loads it
when this file changes. See docs/roles.md.
"""

from __future__ import annotations

import asyncio

from borealis.agent.roles import JobRequest, JobResult, OutputStream, RoleContext, RoleError, RunContext
from borealis.protocol.jobs import JobState

VERSION = "1"


class EchoRole:
    name = "echo"  # must match the file name: role_echo.py
    contexts = frozenset({RunContext.SYSTEM})
    version = VERSION

    async def start(self, ctx: RoleContext) -> None:
        """Called once, before the first job, when this version is loaded."""

    async def execute(self, request: JobRequest, ctx: RoleContext) -> JobResult:
        text = request.params.get("text", "")
        if not isinstance(text, str):
            raise RoleError("params.text must be a string")  # the job ends `failed` with this error
        await asyncio.sleep(float(request.params.get("delay_s", 0)))  # the agent cancels this at the deadline
        if request.params.get("shout"):
            text = text.upper()
        ctx.output(OutputStream.STDOUT, text + "\n")
        return JobResult(
            status=JobState.SUCCEEDED,
            exit_code=0,
            stdout_tail=text + "\n",
            data={"version": VERSION},
        )

    async def cancel(self, job_id: str) -> None:
        """Nothing to kill here: the agent cancels the `execute` task after a short grace."""

    async def stop(self) -> None:
        """Called when the agent stops or a newer version of this file has replaced this one."""


def create_role() -> EchoRole:
    return EchoRole()
