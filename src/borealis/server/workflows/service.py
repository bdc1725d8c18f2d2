"""Workflows on the server (DESIGN §11): saving documents, starting, waiting for and cancelling runs.

A run is created `queued`; every server process claims queued runs (`dispatcher`), executes them and
records their nodes (`recorder`); large payloads go to `<home>/Server/blobs` (`blobs`). Run and node
changes are published as `workflow.event` (`events`). A run that was in flight when its server process
died is marked `interrupted` when that process (the same host and port) starts again: its nodes may
have had effects (scripts ran on agents) that a replay would repeat, so it is not resumed; start it
again if that is safe. Runs are pruned by age and count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from datetime import timedelta
from typing import Any

from borealis.core.clock import utcnow
from borealis.core.errors import Conflict, InvalidInput
from borealis.core.logs import kv
from borealis.core.settings import ServerSettings
from borealis.engine import document as documents
from borealis.engine.images import ImageBlobs
from borealis.engine.nodes.base import Item
from borealis.engine.registry import NodeRegistry
from borealis.engine.ssrf import Guard
from borealis.engine.states import FINAL_RUN_STATES, RunState
from borealis.server import audit
from borealis.server.auth.principal import display_of
from borealis.server.bus import Bus
from borealis.server.db.database import Database
from borealis.server.jobs.service import JobService
from borealis.server.workflows import store
from borealis.server.workflows.blobs import RunBlobs
from borealis.server.workflows.dispatcher import Dispatcher
from borealis.server.workflows.documents import agent_nodes, pin_scripts, webhook_nodes
from borealis.server.workflows.events import CANCEL_SUBJECT, run_events
from borealis.server.workflows.models import Workflow
from borealis.server.workflows.node_services import ServerNodeServices
from borealis.server.workflows.poller import Poller
from borealis.server.workflows.views import run_view

log = logging.getLogger("borealis.server.workflows")


class WorkflowService:
    """Workflows and their runs for the API, the schedules and the webhook triggers."""

    def __init__(self, settings: ServerSettings, db: Database, jobs: JobService, bus: Bus) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.registry = NodeRegistry()
        self.events = run_events(bus)
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
        self.dispatcher = Dispatcher(
            db,
            RunBlobs(settings.home.blobs),
            self.registry,
            self.services,
            self.events,
            self.owner,
            self.check,
            self.prune,
        )
        self.poller = Poller(db, self.registry, self.services, self.dispatcher.kick)

    # --- life cycle ---

    async def start(self) -> None:
        async with self.db.transaction() as session:
            interrupted = await store.interrupt_owned(session, self.owner)
        for run_id in interrupted:
            log.warning("run interrupted by a server restart", extra=kv(run_id=run_id))
        await self.events.start()
        await self.bus.subscribe(CANCEL_SUBJECT, self._cancel_here)
        self.dispatcher.start()
        self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()
        await self.dispatcher.stop()

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
        self.dispatcher.kick()
        return run.id

    async def _start_child(
        self, workflow_id: str, items: list[Item], trigger: dict[str, Any], actor: str
    ) -> str:
        return await self.start_run(workflow_id, items, trigger, actor)

    async def is_running(self, run_id: str) -> bool:
        async with self.db.session() as session:
            run = await store.get_run(session, run_id)
        return run.status not in FINAL_RUN_STATES

    async def wait_run(self, run_id: str, timeout_s: float) -> dict[str, Any]:
        """The run's view once it is final, or as it is after `timeout_s`."""
        listener = self.events.listen(run_id)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout_s
            while True:
                async with self.db.session() as session:
                    run = await store.get_run(session, run_id)
                if run.status in FINAL_RUN_STATES or loop.time() >= deadline:
                    return run_view(run)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(listener.queue.get(), min(1.0, max(0.01, deadline - loop.time())))
        finally:
            self.events.unlisten(listener)

    async def cancel(self, run_id: str, actor: str, ip: str | None) -> dict[str, Any]:
        async with self.db.transaction() as session:
            run = await store.get_run(session, run_id)
            if run.status in FINAL_RUN_STATES:
                raise Conflict(f"the run is already {run.status}")
            await store.finish(
                session, run_id, RunState.CANCELLED, None, f"cancelled by {actor}", (RunState.QUEUED,)
            )
            audit.record(session, actor, "workflow.cancel", run.workflow_id, ip, run_id=run_id)
        await self.bus.publish(CANCEL_SUBJECT, {"run_id": run_id, "actor": actor})
        async with self.db.session() as session:
            return run_view(await store.get_run(session, run_id))

    async def _cancel_here(self, message: dict[str, Any]) -> None:
        self.dispatcher.cancel_here(str(message.get("run_id")), f"cancelled by {message.get('actor')}")

    def read_blob(self, ref: str) -> bytes:
        return self.dispatcher.blobs.read(ref)

    async def prune(self) -> int:
        """Remove final runs past the age and per-workflow count the settings keep."""
        before = utcnow() - timedelta(days=self.settings.workflow_run_days)
        async with self.db.transaction() as session:
            removed = await store.prune_runs(session, before, self.settings.workflow_runs_per_workflow)
        if removed:
            log.info("workflow runs pruned", extra=kv(count=removed))
        return removed
