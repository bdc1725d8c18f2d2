"""Running one workflow (DESIGN §11): items flow from the trigger along the edges.

A node runs once every node with an edge into it has finished, with the items that arrived on its
input ports; a node that received no items (a branch not taken) does not run. Nodes that are ready at
the same time run concurrently. Each attempt of each node is recorded (input, output, status, timing,
error). A failing node is retried per its settings (exponential backoff with full jitter), then its
error policy applies: `stop` fails the run, `continue` passes its input on as its output, `error_port`
sends one item per input item (with the error) out of its `error` port. The run has a timeout; a
cancelled run ends its running nodes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from borealis.core.clock import iso, utcnow
from borealis.core.logs import kv
from borealis.engine.document import Document, Node
from borealis.engine.errors import NodeFailed
from borealis.engine.expressions import ExpressionError, Scope
from borealis.engine.nodes.base import (
    ERROR_PORT,
    MAIN,
    Item,
    NodeContext,
    NodeError,
    Ports,
    all_items,
)
from borealis.engine.registry import NodeRegistry
from borealis.engine.services import NodeServices
from borealis.engine.states import NodeRunState, RunState

MAX_ITEMS_PER_PORT = 10_000
BACKOFF_CAP_S = 300.0

log = logging.getLogger("borealis.engine")


@dataclass
class NodeRecord:
    """One attempt of one node, as the host records it."""

    node_id: str
    node_type: str
    attempt: int
    status: NodeRunState
    input: Ports
    output: Ports | None
    error: str | None
    started_at: datetime
    finished_at: datetime
    duration_ms: int


@dataclass
class Outcome:
    """How a run ended: its status, the last node's items, and the error when it failed."""

    status: RunState
    output: list[Item] = field(default_factory=list)
    error: str | None = None


Record = Callable[[NodeRecord], Awaitable[None]]


@dataclass
class RunSpec:
    """What one run starts from: ids, the trigger, the input items, who started it, the host's services."""

    run_id: str
    workflow_id: str
    trigger: dict[str, Any]
    input: list[Item]
    actor: str
    services: NodeServices


def start_node(document: Document, registry: NodeRegistry, trigger: dict[str, Any]) -> Node:
    """The trigger node a run starts from: the one named, else the first of the trigger's kind."""
    named = trigger.get("node_id")
    if isinstance(named, str) and named in document.nodes:
        return document.nodes[named]
    kind = trigger.get("type", "manual")
    triggers = document.triggers()
    for node in triggers:
        if getattr(registry.get(node.type), "trigger", None) == kind:
            return node
    if not triggers:
        raise NodeFailed("?", "the workflow has no trigger node")
    return triggers[0]


class Execution:
    """One run of a document: nodes run as their inputs are ready, independent branches concurrently."""

    def __init__(self, document: Document, registry: NodeRegistry, spec: RunSpec, record: Record) -> None:
        self._doc = document
        self._registry = registry
        self._spec = spec
        self._record = record
        self._outputs: dict[str, Ports] = {}
        self._inbox: dict[str, Ports] = {node_id: {} for node_id in document.nodes}
        self._rng = random.Random()
        self._started = iso(utcnow())

    async def run(self) -> Outcome:
        try:
            async with asyncio.timeout(self._doc.timeout_s):
                last = await self._walk()
        except TimeoutError:
            return Outcome(
                RunState.TIMED_OUT, error=f"the run did not finish within {self._doc.timeout_s:g} s"
            )
        except NodeFailed as failed:
            return Outcome(RunState.FAILED, error=str(failed))
        return Outcome(RunState.SUCCEEDED, output=last)

    async def _walk(self) -> list[Item]:
        first = start_node(self._doc, self._registry, self._spec.trigger)
        self._inbox[first.id] = {MAIN: self._spec.input}
        waiting = list(self._doc.order)
        done: set[str] = set()
        running: dict[asyncio.Task[Ports], str] = {}
        last: list[Item] = []
        try:
            while waiting or running:
                self._launch_ready(first.id, waiting, done, running)
                if not running:
                    if waiting:  # cannot happen in an acyclic graph; never spin
                        raise NodeFailed(waiting[0], "is waiting for nodes that will never finish")
                    break
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    node_id = running.pop(task)
                    outputs = task.result()  # NodeFailed propagates: the run stops
                    self._deliver(node_id, outputs)
                    done.add(node_id)
                    if outputs:
                        last = outputs.get(MAIN) or all_items(outputs)
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        return last

    def _launch_ready(
        self, first_id: str, waiting: list[str], done: set[str], running: dict[asyncio.Task[Ports], str]
    ) -> None:
        """Start every waiting node whose sources are all done; one that nothing reached is done."""
        for node_id in list(waiting):
            if any(edge.source not in done for edge in self._doc.incoming(node_id)):
                continue
            waiting.remove(node_id)
            inputs = self._inbox.pop(node_id, {})
            if node_id != first_id and not any(inputs.values()):
                done.add(node_id)  # nothing reached it: a branch not taken
                continue
            node = self._doc.nodes[node_id]
            task = asyncio.create_task(self._node(node, inputs), name=f"node-{node_id}")
            running[task] = node_id

    def _deliver(self, node_id: str, outputs: Ports) -> None:
        """Keep a finished node's outputs and pass each port's items along its outgoing edges."""
        self._outputs[node_id] = outputs
        for edge in self._doc.outgoing(node_id):
            items = outputs.get(edge.source_port, [])
            if items:
                self._inbox.setdefault(edge.target, {}).setdefault(edge.target_port, []).extend(items)

    def _scope(self, inputs: Ports) -> Scope:
        nodes = {
            node_id: {
                "output": [entry.get("json") for entry in (ports.get(MAIN) or all_items(ports))],
                "ports": {port: [entry.get("json") for entry in items] for port, items in ports.items()},
            }
            for node_id, ports in self._outputs.items()
        }
        return Scope(
            nodes=nodes,
            items=[entry.get("json") for entry in all_items(inputs)],
            trigger={**self._spec.trigger, "items": [entry.get("json") for entry in self._spec.input]},
            run={"id": self._spec.run_id, "workflow_id": self._spec.workflow_id, "started_at": self._started},
        )

    async def _node(self, node: Node, inputs: Ports) -> Ports:
        node_type = self._registry.get(node.type)
        if node_type is None:
            raise NodeFailed(node.id, f"unknown node type {node.type!r}")
        settings = node.settings
        attempts = settings.retries + 1
        for attempt in range(1, attempts + 1):
            ctx = NodeContext(
                run_id=self._spec.run_id,
                workflow_id=self._spec.workflow_id,
                node_id=node.id,
                params=node.params,
                scope=self._scope(inputs),
                services=self._spec.services,
                trigger=self._spec.trigger,
                actor=self._spec.actor,
            )
            started, clock = utcnow(), time.monotonic()
            try:
                async with asyncio.timeout(settings.timeout_s):
                    outputs = _checked(await node_type.run(ctx, inputs), node_type.outputs)
            except (NodeError, ExpressionError, TimeoutError) as exc:
                error = (
                    f"timed out after {settings.timeout_s:g} s" if isinstance(exc, TimeoutError) else str(exc)
                )
                retryable = getattr(exc, "retryable", not isinstance(exc, ExpressionError))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node's bug is the node's failure, never the server's
                log.exception("node failed unexpectedly", extra=kv(node_id=node.id, type=node.type))
                error, retryable = f"{type(exc).__name__}: {exc}", True
            else:
                await self._record(
                    self._record_of(
                        node, attempt, NodeRunState.SUCCEEDED, inputs, outputs, None, started, clock
                    )
                )
                return outputs
            await self._record(
                self._record_of(node, attempt, NodeRunState.FAILED, inputs, None, error, started, clock)
            )
            if attempt < attempts and retryable:
                base = settings.retry_backoff_s * 2 ** (attempt - 1)
                await asyncio.sleep(self._rng.uniform(0, min(BACKOFF_CAP_S, base)))
                continue
            return self._after_failure(node, inputs, error)
        raise AssertionError("unreachable")

    def _after_failure(self, node: Node, inputs: Ports, error: str) -> Ports:
        policy = node.settings.on_error
        if policy == "continue":
            return {MAIN: all_items(inputs)}
        if policy == "error_port":
            failed = all_items(inputs) or [{"json": {}, "binary_ref": None}]
            return {
                ERROR_PORT: [
                    {
                        "json": {"error": error, "node": node.id, "input": entry.get("json")},
                        "binary_ref": None,
                    }
                    for entry in failed
                ]
            }
        raise NodeFailed(node.id, error)

    @staticmethod
    def _record_of(
        node: Node,
        attempt: int,
        status: NodeRunState,
        inputs: Ports,
        outputs: Ports | None,
        error: str | None,
        started: datetime,
        clock: float,
    ) -> NodeRecord:
        return NodeRecord(
            node_id=node.id,
            node_type=node.type,
            attempt=attempt,
            status=status,
            input=inputs,
            output=outputs,
            error=error,
            started_at=started,
            finished_at=utcnow(),
            duration_ms=int((time.monotonic() - clock) * 1000),
        )


def _checked(outputs: Any, ports: tuple[str, ...]) -> Ports:
    """A node's outputs as the engine needs them: known ports, lists of items, bounded."""
    if not isinstance(outputs, dict):
        raise NodeError("the node returned no outputs", retryable=False)
    checked: Ports = {}
    for port, items in outputs.items():
        if port not in ports and port != ERROR_PORT:
            raise NodeError(f"the node wrote to an unknown port {port!r}", retryable=False)
        if not isinstance(items, list):
            raise NodeError(f"port {port!r} must carry a list of items", retryable=False)
        if len(items) > MAX_ITEMS_PER_PORT:
            raise NodeError(f"more than {MAX_ITEMS_PER_PORT} items on port {port!r}", retryable=False)
        checked[port] = [
            entry if isinstance(entry, dict) and "json" in entry else {"json": entry} for entry in items
        ]
    return checked
