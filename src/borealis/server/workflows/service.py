"""Workflows on the server (DESIGN §11): saving documents, starting, running and cancelling runs.

A run is created `queued`; every server process claims queued runs with a conditional update (one
wins), within the workflow's concurrency limit, and executes them in a task (`engine.Execution`).
Node records are written as each attempt ends; large inputs and outputs go to `<home>/Server/blobs`.
Run and node changes are published as `workflow.event` (SSE at `/api/v1/runs/{id}/events`). A run
that was in flight when its server process died is marked `interrupted` when that process (the same
host and port) starts again: its nodes may have had effects (scripts ran on agents) that a replay
would repeat, so it is not resumed; start it again if that is safe. Runs are pruned by age and count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import iso, utcnow
from borealis.core.errors import Conflict, InvalidInput, NotFound
from borealis.core.home import ensure_dir, write_atomic
from borealis.core.logs import kv
from borealis.core.settings import ServerSettings
from borealis.engine import document as documents
from borealis.engine.engine import Execution, NodeRecord, RunSpec
from borealis.engine.images import ImageBlobs
from borealis.engine.nodes.base import Item
from borealis.engine.registry import NodeRegistry
from borealis.engine.ssrf import Guard
from borealis.server import audit
from borealis.server.auth.principal import display_of
from borealis.server.bus import Bus
from borealis.server.db.database import Database
from borealis.server.jobs.events import JobEvents
from borealis.server.jobs.service import JobService
from borealis.server.jobs.spec import pin_script
from borealis.server.workflows import store
from borealis.server.workflows.models import Workflow, WorkflowNodeRun, WorkflowRun
from borealis.server.workflows.node_services import ServerNodeServices
from borealis.server.workflows.poller import Poller

EVENT_SUBJECT = "workflow.event"
CANCEL_SUBJECT = "workflow.cancel"
DISPATCH_EVERY_S = 1.0
PRUNE_EVERY_S = 3600.0
INLINE_PAYLOAD_BYTES = 64 * 1024
MAX_INPUT_ITEMS = 10_000
CLAIM_BATCH = 200
PARSED_CACHE = 256
RECORD_FLUSH_S = 1.0

log = logging.getLogger("borealis.server.workflows")


def as_items(value: Any) -> list[Item]:
    """A run's input: an object (one item), a list of objects, or nothing."""
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if len(values) > MAX_INPUT_ITEMS:
        raise InvalidInput(f"at most {MAX_INPUT_ITEMS} input items", field="input")
    return [{"json": v if isinstance(v, dict) else {"value": v}, "binary_ref": None} for v in values]


def webhook_nodes(document: documents.Document) -> set[str]:
    return {node.id for node in document.nodes.values() if node.type == "trigger.webhook"}


async def pin_scripts(session: AsyncSession, document: dict[str, Any]) -> dict[str, Any]:
    """The document with each `agents.run_script` that names a library script pinned to the version
    it names (or the newest now) and that body's SHA-256, unless it says `script_version: "latest"`."""
    nodes = []
    for node in document.get("nodes", []):
        params = node.get("params") if isinstance(node, dict) else None
        if node.get("type") == "agents.run_script" and isinstance(params, dict) and "script_id" in params:
            try:
                params = await pin_script(session, params)
            except NotFound as missing:
                raise InvalidInput(
                    f"the workflow is not valid: node {node.get('id')!r}: params.script_id {missing.detail}",
                    field="document",
                ) from None
            node = {**node, "params": params}
        nodes.append(node)
    return {**document, "nodes": nodes}


def agent_nodes(document: documents.Document, registry: NodeRegistry) -> list[str]:
    """The nodes that make agents run something: saving or enabling them needs `jobs:run`."""
    return sorted(
        node.id
        for node in document.nodes.values()
        if getattr(registry.get(node.type), "category", "") == "agents"
    )


class WorkflowService:
    def __init__(self, settings: ServerSettings, db: Database, jobs: JobService, bus: Bus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.registry = NodeRegistry()
        self.events = JobEvents(bus, subject=EVENT_SUBJECT, key="run_id")
        self.owner = f"{socket.gethostname()}:{settings.port}"[:64]
        self.services = ServerNodeServices(
            db=db,
            jobs=jobs,
            guard=Guard(list(settings.workflow_http_allow), settings.port),
            smtp=dict(settings.smtp),
            start_run=self._start_child,
            wait_run=self.wait_run,
            images=ImageBlobs(settings.home.blobs),
        )
        self._blobs = settings.home.blobs / "runs"
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._kick = asyncio.Event()
        self.poller = Poller(db, self.registry, self.services, self._kick.set)
        self._dispatcher: asyncio.Task[None] | None = None
        self._stopping = False
        self._parsed: dict[tuple[str, int], documents.Document] = {}

    # --- life cycle ---

    async def start(self) -> None:
        async with self.db.transaction() as session:
            interrupted = await store.interrupt_owned(session, self.owner)
        for run_id in interrupted:
            log.warning("run interrupted by a server restart", extra=kv(run_id=run_id))
        await self.events.start()
        await self.bus.subscribe(CANCEL_SUBJECT, self._cancel_here)
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="workflow-dispatch")
        self.poller.start()

    async def stop(self) -> None:
        self._stopping = True
        await self.poller.stop()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        for task in list(self._runs.values()):
            task.cancel()
        if self._runs:
            await asyncio.gather(*self._runs.values(), return_exceptions=True)

    # --- documents ---

    def check(self, document: Any) -> documents.Document:
        return documents.parse(document, self.registry)

    def agent_steps_of(self, document: dict[str, Any]) -> list[str]:
        return agent_nodes(self.check(document), self.registry)

    async def agent_steps(self, workflow_id: str) -> list[str]:
        """The agent nodes of the workflow's current version ([] when there is no such workflow)."""
        async with self.db.session() as session:
            workflow = await session.get(Workflow, workflow_id)
        if workflow is None:
            return []
        try:
            return self.agent_steps_of(workflow.document)
        except InvalidInput:
            return []

    async def create(
        self, name: str, description: str, document: dict[str, Any], actor: str, ip: str | None
    ) -> tuple[Workflow, dict[str, str]]:
        """A new workflow, owned by `actor` (whose authority its agent steps run under)."""
        parsed = self.check(document)
        async with self.db.transaction() as session:
            document = await pin_scripts(session, document)
            workflow = await store.create_workflow(session, name, description, document, actor)
            workflow.owner, workflow.owner_name = actor, display_of(actor)
            hooks = await store.sync_hooks(session, workflow.id, webhook_nodes(parsed))
            audit.record(session, actor, "workflow.create", workflow.id, ip, name=name, version=1)
        return workflow, hooks

    async def update(
        self, workflow_id: str, from_version: int, actor: str, ip: str | None, **changes: Any
    ) -> tuple[Workflow, dict[str, str]]:
        parsed = self.check(changes["document"]) if changes.get("document") is not None else None
        async with self.db.transaction() as session:
            if parsed is not None:
                changes["document"] = await pin_scripts(session, changes["document"])
            workflow = await store.get_workflow(session, workflow_id)
            workflow = await store.save_version(session, workflow, from_version, actor, **changes)
            if parsed is not None or changes.get("enabled"):  # a new document, or let it run again
                workflow.owner, workflow.owner_name = actor, display_of(actor)
            hooks = await store.sync_hooks(session, workflow.id, webhook_nodes(parsed)) if parsed else {}
            audit.record(session, actor, "workflow.update", workflow.id, ip, version=workflow.version)
        return workflow, hooks

    async def delete(self, workflow_id: str, actor: str, ip: str | None) -> None:
        async with self.db.transaction() as session:
            workflow = await store.get_workflow(session, workflow_id)
            await session.delete(workflow)
            audit.record(session, actor, "workflow.delete", workflow_id, ip, name=workflow.name)

    async def rotate_hook(self, workflow_id: str, node_id: str, actor: str, ip: str | None) -> str:
        async with self.db.transaction() as session:
            workflow = await store.get_workflow(session, workflow_id)
            if node_id not in webhook_nodes(self.check(workflow.document)):
                raise InvalidInput(
                    f"node {node_id!r} is not a webhook trigger of this workflow", field="node_id"
                )
            secret = await store.rotate_hook(session, workflow_id, node_id)
            audit.record(session, actor, "workflow.hook_rotate", workflow_id, ip, node_id=node_id)
        return secret

    # --- runs ---

    async def start_run(
        self, workflow_id: str, items: list[Item], trigger: dict[str, Any], actor: str, ip: str | None = None
    ) -> str:
        async with self.db.transaction() as session:
            workflow = await store.get_workflow(session, workflow_id)
            if not workflow.enabled and trigger.get("type") != "manual":
                raise Conflict("the workflow is disabled", field="enabled")
            run = await store.add_run(session, workflow, trigger, items, actor)
            audit.record(
                session, actor, "workflow.run", workflow_id, ip, run_id=run.id, trigger=trigger.get("type")
            )
        self._kick.set()
        return run.id

    async def _start_child(
        self, workflow_id: str, items: list[Item], trigger: dict[str, Any], actor: str
    ) -> str:
        return await self.start_run(workflow_id, items, trigger, actor)

    async def is_running(self, run_id: str) -> bool:
        async with self.db.session() as session:
            run = await store.get_run(session, run_id)
        return run.status not in store.FINAL_RUN_STATES

    async def wait_run(self, run_id: str, timeout_s: float) -> dict[str, Any]:
        """The run's view once it is final, or as it is after `timeout_s`."""
        listener = self.events.listen(run_id)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while True:
                async with self.db.session() as session:
                    run = await store.get_run(session, run_id)
                if run.status in store.FINAL_RUN_STATES or loop.time() >= deadline:
                    return run_view(run)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(listener.queue.get(), min(1.0, max(0.01, deadline - loop.time())))
        finally:
            self.events.unlisten(listener)

    async def cancel(self, run_id: str, actor: str, ip: str | None) -> dict[str, Any]:
        async with self.db.transaction() as session:
            run = await store.get_run(session, run_id)
            if run.status in store.FINAL_RUN_STATES:
                raise Conflict(f"the run is already {run.status}")
            await store.finish(session, run_id, "cancelled", None, f"cancelled by {actor}", ("queued",))
            audit.record(session, actor, "workflow.cancel", run.workflow_id, ip, run_id=run_id)
        await self.bus.publish(CANCEL_SUBJECT, {"run_id": run_id, "actor": actor})
        async with self.db.session() as session:
            return run_view(await store.get_run(session, run_id))

    async def _cancel_here(self, message: dict[str, Any]) -> None:
        task = self._runs.get(str(message.get("run_id")))
        if task is not None:
            task.cancel(f"cancelled by {message.get('actor')}")

    # --- executing ---

    async def _dispatch_loop(self) -> None:
        next_prune = 0.0
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), DISPATCH_EVERY_S)
            self._kick.clear()
            try:
                await self._claim_queued()
                if loop.time() >= next_prune:
                    next_prune = loop.time() + PRUNE_EVERY_S
                    await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("workflow dispatch failed")

    async def _claim_queued(self) -> None:
        """Claim queued runs in one transaction, within each workflow's concurrency, and start them."""
        async with self.db.transaction() as session:
            waiting = await store.queued(session, CLAIM_BATCH)
            if not waiting:
                return
            workflow_ids = {run.workflow_id for run in waiting}
            running = await store.running_counts(session, workflow_ids)
            limits = await store.concurrency_limits(session, workflow_ids)
            chosen: list[WorkflowRun] = []
            for run in waiting:
                if (
                    run.workflow_id not in limits
                    or running.get(run.workflow_id, 0) >= limits[run.workflow_id]
                ):
                    continue
                if await store.claim(session, run.id, self.owner):
                    running[run.workflow_id] = running.get(run.workflow_id, 0) + 1
                    chosen.append(run)
        for run in chosen:
            self._runs[run.id] = asyncio.create_task(self._execute(run), name=f"run-{run.id}")

    async def _document(self, workflow_id: str, version: int) -> documents.Document:
        """A version's parsed document; versions never change, so they are kept (a bounded cache)."""
        key = (workflow_id, version)
        found = self._parsed.get(key)
        if found is None:
            async with self.db.session() as session:
                raw = (await store.get_version(session, workflow_id, version)).document
            found = self.check(raw)
            if len(self._parsed) >= PARSED_CACHE:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[key] = found
        return found

    async def _execute(self, run: WorkflowRun) -> None:
        await self._publish(run.id, "run", status="running")
        recorder = _Recorder(self, run.id)
        try:
            parsed = await self._document(run.workflow_id, run.workflow_version)
            spec = RunSpec(
                run.id,
                run.workflow_id,
                dict(run.trigger),
                list(run.input or []),
                run.created_by,
                self.services,
            )
            outcome = await Execution(parsed, self.registry, spec, recorder.record).run()
            status, output, error = (
                outcome.status,
                await self._payload(run.id, "output", outcome.output),
                outcome.error,
            )
        except asyncio.CancelledError as cancelled:
            if self._stopping:
                status, output, error = "interrupted", None, "the server stopped while the run was in flight"
            else:
                status, output, error = (
                    "cancelled",
                    None,
                    str(cancelled.args[0]) if cancelled.args else "cancelled",
                )
        except InvalidInput as exc:  # a version saved before a node type changed
            status, output, error = "failed", None, exc.detail
        except Exception as exc:
            log.exception("run failed unexpectedly", extra=kv(run_id=run.id))
            status, output, error = "failed", None, f"internal error: {type(exc).__name__}"
        finally:
            self._runs.pop(run.id, None)
        async with self.db.transaction() as session:
            await recorder.flush_into(session)
            await store.finish(session, run.id, status, output, error, ("running",))
        await self._publish(run.id, "run", status=status, error=error)
        self._kick.set()  # a slot is free: queued runs of this workflow may go

    async def _payload(self, run_id: str, name: str, value: Any) -> Any:
        """`value` itself, or `{blob_ref, bytes}` when its JSON is large (written under blobs/runs/)."""
        if value is None:
            return None
        data = orjson.dumps(value, default=str)
        if len(data) <= INLINE_PAYLOAD_BYTES:
            return orjson.loads(data)
        path = self._blobs / run_id / f"{name}.json"
        await asyncio.to_thread(_write_blob, path, data)
        return {"blob_ref": f"runs/{run_id}/{name}.json", "bytes": len(data)}

    def read_blob(self, ref: str) -> bytes:
        path = (self.settings.home.blobs / ref).resolve()
        if not str(path).startswith(str(self._blobs.resolve()) + "/") or not path.is_file():
            raise InvalidInput("no such payload", field="ref")
        return path.read_bytes()

    async def _publish(self, run_id: str, kind: str, **fields: Any) -> None:
        await self.events.publish({"run_id": run_id, "type": kind, "at": iso(utcnow()), **fields})

    async def prune(self) -> int:
        before = utcnow() - timedelta(days=self.settings.workflow_run_days)
        async with self.db.transaction() as session:
            removed = await store.prune_runs(session, before, self.settings.workflow_runs_per_workflow)
        if removed:
            log.info("workflow runs pruned", extra=kv(count=removed))
        return removed


class _Recorder:
    """A run's node records, written in one transaction with the run's end — or, for a run that
    goes on, at most every `RECORD_FLUSH_S` — so a short run costs a handful of writes, not one per
    node. Each record is published as a `node` event at once."""

    def __init__(self, service: WorkflowService, run_id: str) -> None:
        self._service = service
        self._run_id = run_id
        self._pending: list[WorkflowNodeRun] = []
        self._flushed_at = time.monotonic()

    async def record(self, entry: NodeRecord) -> None:
        service, run_id = self._service, self._run_id
        prefix = f"{entry.node_id}-{entry.attempt}"
        self._pending.append(
            WorkflowNodeRun(
                run_id=run_id,
                node_id=entry.node_id,
                node_type=entry.node_type,
                attempt=entry.attempt,
                status=entry.status,
                input=await service._payload(run_id, f"{prefix}-input", entry.input),
                output=await service._payload(run_id, f"{prefix}-output", entry.output),
                error=entry.error,
                started_at=entry.started_at,
                finished_at=entry.finished_at,
                duration_ms=entry.duration_ms,
            )
        )
        await service._publish(
            run_id,
            "node",
            node_id=entry.node_id,
            attempt=entry.attempt,
            status=entry.status,
            error=entry.error,
            duration_ms=entry.duration_ms,
        )
        if time.monotonic() - self._flushed_at >= RECORD_FLUSH_S:
            async with service.db.transaction() as session:
                await self.flush_into(session)

    async def flush_into(self, session: Any) -> None:
        session.add_all(self._pending)
        self._pending = []
        self._flushed_at = time.monotonic()


def _write_blob(path: Path, data: bytes) -> None:
    ensure_dir(path.parent)
    write_atomic(path, data)


def run_view(run: WorkflowRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "status": run.status,
        "trigger": run.trigger,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "created_by": run.created_by,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at) if run.started_at else None,
        "finished_at": iso(run.finished_at) if run.finished_at else None,
    }


def node_view(row: WorkflowNodeRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "node_id": row.node_id,
        "node_type": row.node_type,
        "attempt": row.attempt,
        "status": row.status,
        "input": row.input,
        "output": row.output,
        "error": row.error,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
        "duration_ms": row.duration_ms,
    }


def workflow_view(workflow: Workflow, hooks: dict[str, str] | None = None) -> dict[str, Any]:
    view = {
        "id": workflow.id,
        "name": workflow.name,
        "description": workflow.description,
        "version": workflow.version,
        "enabled": workflow.enabled,
        "owner": workflow.owner,
        "owner_name": workflow.owner_name,
        "document": workflow.document,
        "created_by": workflow.created_by,
        "created_at": iso(workflow.created_at),
        "updated_by": workflow.updated_by,
        "updated_at": iso(workflow.updated_at),
    }
    if hooks:
        view["hooks"] = {node_id: f"/hooks/{secret}" for node_id, secret in hooks.items()}
    return view
