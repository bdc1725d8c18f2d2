"""What a node may ask of its host (`ctx.services`): jobs on agents, guarded HTTP, stored inventory,
image blobs, SMTP settings and starting other workflows. The server implements it; tests fake it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

from borealis.engine.images import ImageBlobs

StartRun = Callable[[str, list[dict[str, Any]], dict[str, Any], str], Awaitable[str]]
"""(workflow id, input items, trigger, actor) -> the new run's id."""

WaitRun = Callable[[str, float], Awaitable[dict[str, Any]]]
"""(run id, timeout in seconds) -> the run's view once final, or as it is at the timeout."""


class NodeServices(Protocol):
    """The host's side of the node contract; one object per server process, shared by every run."""

    smtp: dict[str, Any]
    start_run: StartRun | None
    wait_run: WaitRun | None
    images: ImageBlobs | None

    async def run_job(
        self,
        role: str,
        params: dict[str, Any],
        target: dict[str, Any],
        actor: str,
        *,
        workflow_id: str,
        run_as: str = "system",
        timeout_s: float = 300.0,
        wait_s: float = 600.0,
        needs: str | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        """Submit a job and wait until every agent's row is final: (job id, one result per agent).

        `needs` names a scope (e.g. `desktop:view`) the run's authority must hold besides `jobs:run`.
        Raises `NodeError` when the job is refused or does not finish within `wait_s`.
        """
        ...

    async def http(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        timeout_s: float = 30.0,
    ) -> httpx.Response:
        """One request past the SSRF guard, redirects not followed; `NodeError` when it fails."""
        ...

    async def inventory(self, agent_id: str, sections: list[str]) -> dict[str, dict[str, Any]]:
        """The stored inventory sections of an agent: `{name: {hash, collected_at, error, data, …}}`."""
        ...
