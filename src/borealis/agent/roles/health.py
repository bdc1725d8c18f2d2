"""The `health` role: the agent's own resource use (worker RSS, CPU, uptime, open files, threads)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from borealis.agent.roles.contract import JobRequest, JobResult, RoleContext, RunContext
from borealis.protocol.jobs import JobState


def _snapshot() -> dict[str, Any]:
    import psutil

    process = psutil.Process()
    with process.oneshot():
        memory = process.memory_info()
        times = process.cpu_times()
        data: dict[str, Any] = {
            "pid": os.getpid(),
            "rss_bytes": int(memory.rss),
            "cpu_user_s": round(times.user, 3),
            "cpu_system_s": round(times.system, 3),
            "threads": process.num_threads(),
            "started_at": process.create_time(),
        }
        if hasattr(process, "num_fds"):
            data["open_fds"] = process.num_fds()
    return data


class HealthRole:
    name = "health"
    contexts = frozenset({RunContext.SYSTEM})
    version = "1"

    async def start(self, ctx: RoleContext) -> None:
        return None

    async def execute(self, request: JobRequest, ctx: RoleContext) -> JobResult:
        data = await asyncio.to_thread(_snapshot)
        return JobResult(status=JobState.SUCCEEDED, exit_code=0, data=data)

    async def cancel(self, job_id: str) -> None:
        return None

    async def stop(self) -> None:
        return None


def create_role() -> HealthRole:
    return HealthRole()
