"""The server's implementation of the engine's `NodeServices` (what nodes get as `ctx.services`): jobs on
agents, guarded HTTP, stored inventory, per-node state, and starting other workflows. One object per
server process; nodes never touch the database or the jobs machinery themselves."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from borealis.core.errors import BorealisError, Forbidden
from borealis.engine.errors import NodeError
from borealis.engine.images import ImageBlobs
from borealis.engine.services import StartRun, WaitRun
from borealis.engine.ssrf import Guard
from borealis.protocol.jobs import RunAs
from borealis.server import audit
from borealis.server.auth import authority
from borealis.server.auth.scopes import Scope
from borealis.server.db.database import Database
from borealis.server.inventory import queries as inventory_queries
from borealis.server.jobs import store as job_store
from borealis.server.jobs.service import JobService
from borealis.server.jobs.spec import JobSpec
from borealis.server.jobs.views import result_view
from borealis.server.workflows.models import Workflow, WorkflowNodeState

JOB_POLL_S = 1.0  # a re-read without events, in case one was dropped
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


@dataclass
class ServerNodeServices:
    """`engine.services.NodeServices` backed by the database, the jobs service and the SSRF guard."""

    db: Database
    jobs: JobService
    guard: Guard
    smtp: dict[str, Any]
    start_run: StartRun | None = None
    wait_run: WaitRun | None = None
    images: ImageBlobs | None = None

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
        """Submit a job and wait until every agent's row is final; (job id, one result per agent).
        The workflow's owner, and the run's starter when that is a principal, must still be allowed to
        run jobs (re-read now); otherwise no job is made and the step fails with the reason."""
        actor = await self._authority(workflow_id, actor, Scope(needs) if needs is not None else None)
        spec = JobSpec(
            role=role,
            params=params,
            run_as=RunAs(run_as),
            timeout_s=timeout_s,
            expires_in_s=max(wait_s, 60.0),
        )
        try:
            job = await self.jobs.submit(spec, target, actor, None)
        except BorealisError as exc:
            raise NodeError(f"the job was refused: {exc.detail}", retryable=False) from None
        job_id = str(job["id"])
        listener = self.jobs.events.listen(job_id)  # before the next await: no state event is missed
        deadline = time.monotonic() + wait_s
        try:
            while True:
                async with self.db.session() as session:
                    rows = await job_store.results(session, job_id)
                if all(job_store.is_final(row.status) for row in rows):
                    return job_id, [result_view(row) for row in rows]
                if time.monotonic() > deadline:
                    raise NodeError(
                        f"job {job_id} did not finish within {wait_s:g} s (cancelled)", retryable=False
                    )
                await _next_final_state(listener.queue, JOB_POLL_S)
        except (asyncio.CancelledError, NodeError):  # the run was cancelled or gave up: so is the job
            with contextlib.suppress(BorealisError):
                await asyncio.shield(self.jobs.cancel(job_id, actor, None))
            raise
        finally:
            self.jobs.events.unlisten(listener)

    async def _authority(self, workflow_id: str, actor: str, needs: Scope | None = None) -> str:
        """Who the job is submitted as: the run's starter when a principal, else the workflow's owner."""
        async with self.db.session() as session:
            owner = await session.scalar(select(Workflow.owner).where(Workflow.id == workflow_id)) or ""
            refs = [owner] + ([actor] if authority.is_principal(actor) and actor != owner else [])
            try:
                for ref in refs:
                    principal = await authority.check_run(session, ref, "this workflow's agent step")
                    if needs is not None and not principal.may(needs):
                        raise Forbidden(f"{principal.name} lacks the {needs.value} scope this step needs")
            except BorealisError as refused:
                reason = refused.detail
            else:
                return actor if authority.is_principal(actor) else owner
        async with self.db.transaction() as session:
            audit.record(session, actor, "workflow.refused", workflow_id, None, owner=owner, reason=reason)
        raise NodeError(f"refused: {reason}", retryable=False)

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
        """One request past the SSRF guard; redirects are not followed (each hop would need the guard)."""
        await self.guard.check(url)
        try:
            async with (
                httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client,
                client.stream(method, url, headers=headers, params=params, content=content) as response,
            ):
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise NodeError(
                            f"the response is larger than {MAX_RESPONSE_BYTES} bytes", retryable=False
                        )
                return httpx.Response(
                    response.status_code,
                    headers=response.headers,
                    content=bytes(body),
                    request=response.request,
                )
        except httpx.TimeoutException:
            raise NodeError(f"{method} {url} timed out after {timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise NodeError(f"{method} {url} failed: {exc}") from None

    async def inventory(self, agent_id: str, sections: list[str]) -> dict[str, dict[str, Any]]:
        """The stored inventory sections of an agent: `{name: {hash, collected_at, error, data, …}}`."""
        async with self.db.session() as session:
            return await inventory_queries.sections_of(session, agent_id, sections)

    async def load_state(self, workflow_id: str, node_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await session.get(WorkflowNodeState, (workflow_id, node_id))
            return dict(row.data) if row is not None else {}


async def _next_final_state(queue: asyncio.Queue[dict[str, Any]], timeout_s: float) -> None:
    """Wait until an event says some row became final (then the rows are read again), or a timeout."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while True:
                event = await queue.get()
                if event.get("type") == "state" and job_store.is_final(str(event.get("status"))):
                    return
