"""Trying one node alone while a workflow is built (the canvas's "Run this node"): the node as edited,
on the input it had in a past run or on pinned items, through the engine's own node path (expressions,
retries, timeout, error policy, the same services and SSRF guard). Nothing is stored as a run."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from borealis.engine import document as documents
from borealis.engine.document import Document, Node
from borealis.engine.engine import Execution, NodeRecord, RunSpec
from borealis.engine.errors import NodeError, NodeFailed
from borealis.engine.expressions import ExpressionError, render
from borealis.engine.nodes.base import MAIN, Item, Ports, all_items
from borealis.engine.nodes.common import target_of
from borealis.engine.registry import NodeRegistry
from borealis.server.db.models import Agent
from borealis.server.jobs.targets import resolve_target
from borealis.server.workflows import store
from borealis.server.workflows.documents import pin_scripts
from borealis.server.workflows.service import WorkflowService
from borealis.server.workflows.views import as_items

MAX_INPUT_BYTES = 1024 * 1024
TIMEOUT_S = 900.0
CONFIRM_NAMES = 10
FILLER_TRIGGER = "trial-trigger"


class TrialStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@dataclass
class TrialInput:
    """What the node is given: items per input port, earlier nodes' outputs and the run's trigger
    (for expressions naming `nodes.<id>`, `trigger`), and where it came from (for the audit)."""

    ports: Ports
    upstream: dict[str, Ports] = field(default_factory=dict)
    trigger: dict[str, Any] = field(default_factory=lambda: {"type": "trial"})
    trigger_items: list[Item] = field(default_factory=list)
    source: str = "pinned"


@dataclass
class TrialResult:
    status: str
    outputs: Ports | None
    error: str | None
    duration_ms: int
    attempts: list[NodeRecord]


def parse_node(raw: Any, registry: NodeRegistry) -> Node:
    """The node as the document check sees it (every problem named by node and field); a node that is
    not a trigger is checked beside a filler trigger, as a document needs one."""
    if not isinstance(raw, dict):
        raise InvalidInput("node must be an object", field="node")
    nodes = [raw]
    if not registry.is_trigger(str(raw.get("type"))):
        filler = FILLER_TRIGGER if raw.get("id") != FILLER_TRIGGER else f"{FILLER_TRIGGER}-2"
        nodes.append({"id": filler, "type": "trigger.manual"})
    parsed = documents.parse({"nodes": nodes, "edges": []}, registry)
    return parsed.nodes[str(raw["id"])]


def pinned(
    items: list[Any] | None, ports: dict[str, list[Any]] | None, node: Node, registry: NodeRegistry
) -> TrialInput:
    """Pinned data: `items` on the node's first input port, or `ports` by name."""
    size = len(orjson.dumps({"items": items, "ports": ports}, default=str))
    if size > MAX_INPUT_BYTES:
        raise PayloadTooLarge(f"pinned input is limited to {MAX_INPUT_BYTES} bytes of JSON (got {size})")
    node_type = registry.get(node.type)
    inputs = tuple(getattr(node_type, "inputs", (MAIN,))) or (MAIN,)
    if ports:
        unknown = sorted(set(ports) - set(inputs))
        if unknown:
            raise InvalidInput(f"{node.type} has no input port {unknown[0]!r}", field="input.ports")
        return TrialInput({port: as_items(values) for port, values in ports.items()})
    return TrialInput({inputs[0]: as_items(items or [])})


async def from_run(service: WorkflowService, workflow_id: str, run_id: str, node_id: str) -> TrialInput:
    """The node's input in a past run of this workflow (its last attempt), with the outputs of the
    nodes that ran before it and the run's trigger, so expressions see what they saw then."""
    async with service.db.session() as session:
        run = await store.get_run(session, run_id)
        if run.workflow_id != workflow_id:
            raise NotFound(f"no run {run_id!r} of this workflow")
        records = await store.node_records(session, run.id)
    mine = [row for row in records if row.node_id == node_id]
    if not mine:
        raise InvalidInput(
            f"node {node_id!r} did not run in run {run_id} (new, or on a branch not taken); pin data instead",
            field="input.from_run",
        )
    upstream: dict[str, Ports] = {}
    for row in records:
        if row.node_id != node_id and row.output is not None:
            upstream[row.node_id] = await _loaded(service, row.output)
    trigger = {key: value for key, value in dict(run.trigger or {}).items() if key != "items"}
    return TrialInput(
        ports=await _loaded(service, mine[-1].input),
        upstream=upstream,
        trigger=trigger,
        trigger_items=list(run.input or []),
        source=f"run:{run.id}",
    )


async def _loaded(service: WorkflowService, value: Any) -> Ports:
    """A recorded payload, read back from its blob when it was too large to keep inline."""
    if isinstance(value, dict) and isinstance(value.get("blob_ref"), str) and "bytes" in value:
        value = orjson.loads(await asyncio.to_thread(service.read_blob, value["blob_ref"]))
    return value if isinstance(value, dict) else {}


class Trial(Execution):
    """One node run alone: an execution of a one-node document that already knows the outputs of the
    nodes before it, so the node runs through the engine's `_node` exactly as in a run."""

    def __init__(self, node: Node, registry: NodeRegistry, spec: RunSpec, upstream: dict[str, Ports]) -> None:
        self.attempts: list[NodeRecord] = []
        alone = Document(nodes={node.id: node}, edges=[], order=[node.id])
        super().__init__(alone, registry, spec, self._keep)
        self._outputs.update(upstream)
        self._alone = node

    async def _keep(self, record: NodeRecord) -> None:
        self.attempts.append(record)

    def rendered_params(self, inputs: Ports) -> dict[str, Any]:
        """The parameters as the node's first attempt renders them (to name an agent node's target)."""
        items = all_items(inputs)
        scope = self._scope(inputs).with_item(items[0] if items else None)
        rendered = render(self._alone.params, scope)
        return rendered if isinstance(rendered, dict) else {}

    async def trial(self, inputs: Ports, timeout_s: float = TIMEOUT_S) -> TrialResult:
        clock = time.monotonic()
        outputs: Ports | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(timeout_s):
                outputs = await self._node(self._alone, inputs)
        except TimeoutError:
            status, error = TrialStatus.TIMED_OUT, f"the trial did not finish within {timeout_s:g} s"
        except NodeFailed:
            status = TrialStatus.FAILED
            error = self.attempts[-1].error if self.attempts else "failed"
        else:
            last = self.attempts[-1] if self.attempts else None
            status = (
                TrialStatus.FAILED if last is not None and last.status == "failed" else TrialStatus.SUCCEEDED
            )
            error = last.error if last is not None else None
        return TrialResult(status, outputs, error, int((time.monotonic() - clock) * 1000), self.attempts)


def trial_of(service: WorkflowService, workflow_id: str, node: Node, given: TrialInput, actor: str) -> Trial:
    spec = RunSpec(
        run_id=f"trial-{uuid.uuid4().hex[:16]}",
        workflow_id=workflow_id,
        trigger=given.trigger,
        input=given.trigger_items,
        actor=actor,
        services=service.services,
    )
    return Trial(node, service.registry, spec, given.upstream)


async def pinned_node(service: WorkflowService, raw: dict[str, Any]) -> Node:
    """The node checked, with a library script pinned as a save would pin it."""
    async with service.db.session() as session:
        document = await pin_scripts(session, {"nodes": [raw]})
    return parse_node(document["nodes"][0], service.registry)


def is_agent_node(service: WorkflowService, node: Node) -> bool:
    return getattr(service.registry.get(node.type), "category", "") == "agents"


async def agents_reached(service: WorkflowService, trial: Trial, inputs: Ports) -> list[dict[str, str]]:
    """The agents an agent node would run on with this input: `[{id, hostname}]`."""
    try:
        target = target_of(trial.rendered_params(inputs), all_items(inputs))
    except (ExpressionError, NodeError) as exc:
        raise InvalidInput(
            f"the node's target cannot be worked out: {exc}", field="node.params.target"
        ) from None
    async with service.db.session() as session:
        resolved = await resolve_target(
            session, target.get("agents"), target.get("tags"), bool(target.get("all"))
        )
        return await _named(session, resolved.agent_ids)


async def _named(session: AsyncSession, agent_ids: list[str]) -> list[dict[str, str]]:
    rows = await session.execute(select(Agent.id, Agent.hostname).where(Agent.id.in_(agent_ids[:1000])))
    names = {agent_id: hostname for agent_id, hostname in rows}
    return [{"id": agent_id, "hostname": names.get(agent_id, agent_id)} for agent_id in agent_ids]


def confirmation_needed(node: Node, agents: list[dict[str, str]]) -> Conflict:
    shown = ", ".join(agent["hostname"] for agent in agents[:CONFIRM_NAMES])
    more = f" and {len(agents) - CONFIRM_NAMES} more" if len(agents) > CONFIRM_NAMES else ""
    return Conflict(
        f"node {node.id!r} ({node.type}) would run on {len(agents)} agent(s): {shown}{more}; "
        "send confirm: true to run it",
        field="confirm",
        agents=agents[:100],
        agent_count=len(agents),
    )
