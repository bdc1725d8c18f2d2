"""A real worker in-process against the fake gateway, for job tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from borealis.agent.assembly import build_worker
from borealis.agent.identity import Identity
from borealis.agent.worker import Worker
from borealis.core.home import Home
from borealis.core.settings import load_agent_settings
from tests.agent.fakes import FakeGateway, enrolled_home


@dataclass
class Harness:
    gateway: FakeGateway
    home: Home
    identity: Identity
    worker: Worker

    @property
    def agent_id(self) -> str:
        return self.identity.agent_id

    @property
    def tmp_dir(self) -> Path:
        return self.home.agent / "tmp"

    def job(
        self, role: str = "script", params: dict[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        return self.gateway.job(self.agent_id, role, params, **options)

    async def run(self, frame: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        """Send a job and return its (first) result."""
        await self.gateway.send(frame)
        return await self.result(frame["job_id"], timeout)

    async def result(self, job_id: str, timeout: float = 15.0) -> dict[str, Any]:
        await self.gateway.wait_for(lambda: self.gateway.results(job_id), timeout)
        return self.gateway.results(job_id)[0]


def script(body: str, language: str = "bash", **params: Any) -> dict[str, Any]:
    return {"language": language, "script": body, **params}


@contextlib.asynccontextmanager
async def running_worker(
    root: Path, gateway: FakeGateway | None = None, **settings: Any
) -> AsyncIterator[Harness]:
    """An enrolled home, a worker connected to a fake gateway (made unless given), stopped at the end."""
    async with contextlib.AsyncExitStack() as stack:
        if gateway is None:
            gateway = await stack.enter_async_context(FakeGateway(heartbeat_s=0.2))
        home, identity, key = enrolled_home(root, gateway.url, gateway.key, **settings)
        gateway.agent_keys[identity.agent_id] = key
        worker = build_worker(home, load_agent_settings(home), startup_delay=False, beat_fd=None)
        running = asyncio.create_task(worker.run())
        try:
            count = len(gateway.sessions)
            await gateway.wait_welcomed(count + 1)
            yield Harness(gateway, home, identity, worker)
        finally:
            worker.request_stop()
            await asyncio.wait_for(running, 15)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`."""
    found = []
    for process in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError, OSError):
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
    return found
