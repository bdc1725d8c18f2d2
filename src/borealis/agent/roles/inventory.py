"""The `inventory` role: collect sections now and send them before the job ends (DESIGN §10).

params: `{sections: [names] (default: all), force: bool (default false)}`. The sections go to the
server as an `inventory` frame, queued before this job's result (forced: even when unchanged);
the result's `data` is `{"sections": {name: {"hash", "error"}}}`. The job fails only when every
requested section failed.
"""

from __future__ import annotations

from typing import Any

from borealis.agent.roles.contract import JobRequest, JobResult, RoleContext, RoleError, RunContext
from borealis.protocol.inventory import SECTIONS
from borealis.protocol.jobs import JobState


def _params(params: dict[str, Any]) -> tuple[list[str], bool]:
    sections = params.get("sections") or list(SECTIONS)
    force = params.get("force", False)
    if not isinstance(sections, list) or not all(isinstance(name, str) for name in sections):
        raise RoleError("params.sections must be a list of section names")
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise RoleError(f"unknown sections {unknown}; known: {', '.join(SECTIONS)}")
    if not isinstance(force, bool):
        raise RoleError("params.force must be true or false")
    return list(dict.fromkeys(sections)), force


class InventoryRole:
    name = "inventory"
    contexts = frozenset({RunContext.SYSTEM})
    version = "1"

    async def start(self, ctx: RoleContext) -> None:
        return None

    async def execute(self, request: JobRequest, ctx: RoleContext) -> JobResult:
        sections, force = _params(request.params)
        if ctx.inventory is None:
            raise RoleError("this agent runs no inventory service")
        collected = await ctx.inventory.refresh(sections, force=force)
        summary = {name: {"hash": s["hash"], "error": s["error"]} for name, s in collected.items()}
        if all(s["error"] for s in collected.values()):
            return JobResult(JobState.FAILED, data={"sections": summary}, error="every section failed")
        return JobResult(JobState.SUCCEEDED, exit_code=0, data={"sections": summary})

    async def cancel(self, job_id: str) -> None:
        return None  # the runner cancels `execute`; that cancels the collections and ends their programs

    async def stop(self) -> None:
        return None


def create_role() -> InventoryRole:
    return InventoryRole()
