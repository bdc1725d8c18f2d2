"""Polling triggers (DESIGN §11): every `TICK_S` the poller finds the poll trigger nodes of enabled
workflows whose interval has passed, polls each (`trigger.poll`'s `poll`), and stores what it saw in
the same transaction as the run it starts.

Several server processes may poll: a node's row in `workflow_node_state` carries `updated_at`, the
time of its last claim, and a process claims the node for one interval with a conditional update
(`updated_at <= now - interval`), which one process wins. The poll's result is written only while the
claim is still this process' (`updated_at` unchanged), together with the run it starts; so a change
fires once, and a server that dies between the poll and the write has written nothing: the next poll
sees the change again. The cursor and keys live in that row, so they survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from borealis.core.clock import iso, utcnow
from borealis.core.logs import kv
from borealis.engine.expressions import ExpressionError, Scope
from borealis.engine.nodes.base import Item, NodeContext, NodeError
from borealis.engine.nodes.trigger_poll import interval_of
from borealis.engine.registry import NodeRegistry
from borealis.engine.services import NodeServices
from borealis.server import audit
from borealis.server.db.database import Database
from borealis.server.workflows import store
from borealis.server.workflows.models import Workflow, WorkflowNodeState

TICK_S = 1.0
MAX_CONCURRENT_POLLS = 8
POLL_TIMEOUT_S = 150.0  # a poll's own request is bounded by its timeout_s (≤ 120 s); this bounds the rest
MAX_RUN_ITEMS = 10_000
READ_CHUNK = 100

log = logging.getLogger("borealis.server.workflows.poller")

Key = tuple[str, str]


@dataclass(frozen=True)
class PollNode:
    workflow_id: str
    node_id: str
    type: str
    params: dict[str, Any]
    interval_s: float

    @property
    def key(self) -> Key:
        return (self.workflow_id, self.node_id)


class Poller:
    def __init__(
        self, db: Database, registry: NodeRegistry, services: NodeServices, kick: Callable[[], None]
    ) -> None:
        """`services` are the nodes' (`NodeServices`: the guarded `http`); `kick` wakes the dispatcher
        when a run was added."""
        self._db = db
        self._registry = registry
        self._services = services
        self._kick = kick
        self._documents: dict[str, tuple[int, list[PollNode]]] = {}
        self._next: dict[Key, float] = {}  # loop time before which a node is not tried again
        self._inflight: dict[Key, asyncio.Task[bool]] = {}
        self._failing: dict[Key, str] = {}
        self._task: asyncio.Task[None] | None = None

    # --- life cycle ---

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="workflow-poller")

    async def stop(self) -> None:
        tasks = [task for task in (self._task, *self._inflight.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    async def _loop(self) -> None:
        broken = False
        while True:
            try:
                for node in await self.due():
                    if len(self._inflight) >= MAX_CONCURRENT_POLLS:
                        break
                    task = asyncio.create_task(
                        self.poll(node), name=f"poll-{node.workflow_id}-{node.node_id}"
                    )
                    self._inflight[node.key] = task
                    task.add_done_callback(partial(self._finished, node.key))
                if broken:
                    log.info("workflow polling works again")
                broken = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not broken:  # once per outage, not once per tick
                    log.exception("workflow polling failed")
                broken = True
            await asyncio.sleep(TICK_S)

    def _finished(self, key: Key, task: asyncio.Task[bool]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "a poll failed", exc_info=task.exception(), extra=kv(workflow_id=key[0], node_id=key[1])
            )

    # --- which nodes ---

    async def due(self) -> list[PollNode]:
        """The poll nodes of enabled workflows that this process may try now."""
        now = asyncio.get_running_loop().time()
        return [
            node
            for node in await self._poll_nodes()
            if node.key not in self._inflight and self._next.get(node.key, 0.0) <= now
        ]

    async def poll_due(self) -> int:
        """Poll every due node now and wait for them (a burst, for tests): the runs started."""
        started = await asyncio.gather(*(self.poll(node) for node in await self.due()))
        return sum(started)

    async def _poll_nodes(self) -> list[PollNode]:
        """Read again only the documents whose version changed since the last look."""
        async with self._db.session() as session:
            enabled = await session.execute(
                select(Workflow.id, Workflow.version).where(Workflow.enabled.is_(True))
            )
            listed = {row.id: row.version for row in enabled}
            stale = [
                wid for wid, version in listed.items() if self._documents.get(wid, (-1, []))[0] != version
            ]
            for start in range(0, len(stale), READ_CHUNK):
                rows = await session.execute(
                    select(Workflow.id, Workflow.version, Workflow.document).where(
                        Workflow.id.in_(stale[start : start + READ_CHUNK])
                    )
                )
                for row in rows:
                    self._documents[row.id] = (row.version, self._nodes_of(row.id, row.document))
        for gone in set(self._documents) - set(listed):
            del self._documents[gone]
        nodes = [node for _, found in self._documents.values() for node in found]
        present = {node.key for node in nodes}
        for table in (self._next, self._failing):
            for key in set(table) - present:
                del table[key]
        return nodes

    def _nodes_of(self, workflow_id: str, document: Any) -> list[PollNode]:
        found: list[PollNode] = []
        raw_nodes = document.get("nodes") if isinstance(document, dict) else None
        for raw in raw_nodes if isinstance(raw_nodes, list) else []:
            if not isinstance(raw, dict):
                continue
            node_type = self._registry.get(str(raw.get("type")))
            if getattr(node_type, "trigger", None) != "poll" or not callable(
                getattr(node_type, "poll", None)
            ):
                continue
            given = raw.get("params")
            params: dict[str, Any] = given if isinstance(given, dict) else {}
            found.append(
                PollNode(
                    workflow_id, str(raw.get("id")), str(raw.get("type")), dict(params), interval_of(params)
                )
            )
        return found

    # --- one poll ---

    async def poll(self, node: PollNode) -> bool:
        """Claim, poll and record one node; True when a run was started."""
        loop = asyncio.get_running_loop()
        claim = await self._claim(node)
        if claim is None:
            return False
        claimed_at, state = claim
        self._next[node.key] = loop.time() + node.interval_s
        trigger = {"type": "poll", "node_id": node.node_id}
        ctx = NodeContext(
            run_id="",
            workflow_id=node.workflow_id,
            node_id=node.node_id,
            params=node.params,
            scope=Scope(trigger=trigger, run={"workflow_id": node.workflow_id}),
            services=self._services,
            trigger=trigger,
            actor=self._actor(node),
        )
        node_type: Any = self._registry.get(node.type)
        items: list[Item] = []
        error: str | None = None
        try:
            async with asyncio.timeout(POLL_TIMEOUT_S):
                polled = await node_type.poll(ctx, state)
            items, state = polled.items, dict(polled.state)
        except (NodeError, ExpressionError) as exc:
            error = str(exc)
        except TimeoutError:
            error = f"the poll did not finish within {POLL_TIMEOUT_S:g} s"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a node's bug stops this poll, never the poller
            log.exception(
                "a poll failed unexpectedly", extra=kv(workflow_id=node.workflow_id, node_id=node.node_id)
            )
            error = f"{type(exc).__name__}: {exc}"
        self._report(node, error)
        state.update(last_error=error, polled_at=iso(utcnow()))
        return await self._record(node, claimed_at, state, items[:MAX_RUN_ITEMS], trigger)

    async def _claim(self, node: PollNode) -> tuple[datetime, dict[str, Any]] | None:
        """(claim time, stored state) when this process may poll the node now, else None."""
        now = utcnow()
        where = (WorkflowNodeState.workflow_id == node.workflow_id, WorkflowNodeState.node_id == node.node_id)
        async with self._db.transaction() as session:
            claimed = await session.execute(
                update(WorkflowNodeState)
                .where(*where, WorkflowNodeState.updated_at <= now - timedelta(seconds=node.interval_s))
                .values(updated_at=now)
            )
            found = (
                await session.execute(
                    select(WorkflowNodeState.data, WorkflowNodeState.updated_at).where(*where)
                )
            ).first()
        if claimed.rowcount:  # type: ignore[attr-defined]
            assert found is not None
            return now, dict(found.data or {})
        if found is not None:  # another process polled it lately: try again when its interval ends
            wait = (found.updated_at + timedelta(seconds=node.interval_s) - now).total_seconds()
            self._next[node.key] = asyncio.get_running_loop().time() + max(TICK_S, wait)
            return None
        try:
            async with self._db.transaction() as session:
                session.add(
                    WorkflowNodeState(
                        workflow_id=node.workflow_id, node_id=node.node_id, data={}, updated_at=now
                    )
                )
        except IntegrityError:  # another process made the row first, and holds the claim
            self._next[node.key] = asyncio.get_running_loop().time() + node.interval_s
            return None
        return now, {}

    async def _record(
        self,
        node: PollNode,
        claimed_at: datetime,
        state: dict[str, Any],
        items: list[Item],
        trigger: dict[str, Any],
    ) -> bool:
        """The state, and the run for `items`, in one transaction, if the claim is still ours."""
        started = False
        async with self._db.transaction() as session:
            kept = await session.execute(
                update(WorkflowNodeState)
                .where(
                    WorkflowNodeState.workflow_id == node.workflow_id,
                    WorkflowNodeState.node_id == node.node_id,
                    WorkflowNodeState.updated_at == claimed_at,
                )
                .values(data=state)
            )
            if not kept.rowcount:  # type: ignore[attr-defined]
                log.info(
                    "a poll outlived its claim; its result is dropped",
                    extra=kv(workflow_id=node.workflow_id, node_id=node.node_id),
                )
                return False
            workflow = await session.get(Workflow, node.workflow_id)
            if items and workflow is not None and workflow.enabled:
                actor = self._actor(node)
                run = await store.add_run(session, workflow, trigger, items, actor)
                audit.record(session, actor, "workflow.run", workflow.id, None, run_id=run.id, trigger="poll")
                started = True
        if started:
            self._kick()
        return started

    @staticmethod
    def _actor(node: PollNode) -> str:
        return f"poll:{node.node_id}"[:160]

    def _report(self, node: PollNode, error: str | None) -> None:
        """Log a node's failure when it starts or changes, and its recovery; not every failed poll."""
        before = self._failing.get(node.key)
        fields = kv(workflow_id=node.workflow_id, node_id=node.node_id)
        if error is None:
            if before is not None:
                del self._failing[node.key]
                log.info("a poll trigger works again", extra=fields)
            return
        if before != error:
            self._failing[node.key] = error
            log.warning("a poll trigger failed: %s", error, extra=fields)
