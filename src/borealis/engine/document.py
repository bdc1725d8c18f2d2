"""A workflow document (DESIGN §11), checked before it is saved or run.

`{nodes: [{id, type, version, name, params, settings, ui: {x, y}}], edges: [{id, source, source_port,
target, target_port}], settings: {timezone, timeout_s, concurrency}}`. Every problem is reported with
the node (or edge) and the field it is about; the whole list comes back in the 400's `errors`.
Edges and expressions name nodes by id. The graph must be acyclic, and must have a trigger.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from borealis.core.errors import InvalidInput
from borealis.engine import schema
from borealis.engine.expressions import template_errors
from borealis.engine.nodes.base import ERROR_PORT, NodeType
from borealis.engine.registry import NodeRegistry

NODE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_NODES = 200
MAX_EDGES = 1000
MAX_PARAMS_BYTES = 64 * 1024
ON_ERROR = ("stop", "continue", "error_port")

NODE_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "retries": {"type": "integer", "minimum": 0, "maximum": 10},
        "retry_backoff_s": {"type": "number", "minimum": 0, "maximum": 3600},
        "timeout_s": {"type": "number", "minimum": 0.01, "maximum": 86400},
        "on_error": {"type": "string", "enum": list(ON_ERROR)},
    },
}
WORKFLOW_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "timezone": {"type": "string", "maxLength": 64},
        "timeout_s": {"type": "number", "minimum": 1, "maximum": 7 * 86400},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
}


@dataclass(frozen=True)
class NodeSettings:
    """What the engine does around one node: retries with backoff, a timeout, and the error policy."""

    retries: int = 0
    retry_backoff_s: float = 1.0
    timeout_s: float = 300.0
    on_error: str = "stop"


@dataclass(frozen=True)
class Node:
    """One checked node of a document: its type and version, display name, raw parameters, settings."""

    id: str
    type: str
    version: int
    name: str
    params: dict[str, Any]
    settings: NodeSettings


@dataclass(frozen=True)
class Edge:
    """A link from one node's output port to another node's input port."""

    id: str
    source: str
    source_port: str
    target: str
    target_port: str


@dataclass(frozen=True)
class Document:
    """A checked workflow document: nodes, edges, run settings, and a topological order of the nodes."""

    nodes: dict[str, Node]
    edges: list[Edge]
    timezone: str = "UTC"
    timeout_s: float = 3600.0
    concurrency: int = 10
    order: list[str] = field(default_factory=list)  # a topological order of the node ids

    def incoming(self, node_id: str) -> list[Edge]:
        return [edge for edge in self.edges if edge.target == node_id]

    def outgoing(self, node_id: str) -> list[Edge]:
        return [edge for edge in self.edges if edge.source == node_id]

    def triggers(self) -> list[Node]:
        return [self.nodes[node_id] for node_id in self.order if not self.incoming(node_id)]


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, message: str, *, node: str | None = None, edge: str | None = None, field: str = "") -> None:
        self.items.append({"node": node, "edge": edge, "field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            where = (
                f"node {first['node']!r}: "
                if first["node"]
                else f"edge {first['edge']!r}: "
                if first["edge"]
                else ""
            )
            field_name = f"{first['field']} " if first["field"] else ""
            raise InvalidInput(
                f"the workflow is not valid: {where}{field_name}{first['message']}"
                + (f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""),
                errors=self.items[:100],
            )


def parse(raw: Any, registry: NodeRegistry) -> Document:
    """The document, checked; `InvalidInput` with every problem (node, field, message) otherwise."""
    problems = _Problems()
    if not isinstance(raw, dict):
        problems.add("the document must be an object")
        problems.raise_if_any()
    raw_nodes, raw_edges = raw.get("nodes"), raw.get("edges", [])
    if not isinstance(raw_nodes, list) or not raw_nodes:
        problems.add("must be a non-empty list", field="nodes")
        problems.raise_if_any()
    if not isinstance(raw_edges, list):
        problems.add("must be a list", field="edges")
        problems.raise_if_any()
    if len(raw_nodes) > MAX_NODES or len(raw_edges) > MAX_EDGES:
        problems.add(f"at most {MAX_NODES} nodes and {MAX_EDGES} edges", field="nodes")
        problems.raise_if_any()
    nodes = _nodes(raw_nodes, registry, problems)
    edges = _edges(raw_edges, nodes, registry, problems)
    settings = raw.get("settings") or {}
    for where, message in schema.check(WORKFLOW_SETTINGS_SCHEMA, settings, "settings"):
        problems.add(message, field=where)
    timezone = str(settings.get("timezone") or "UTC") if isinstance(settings, dict) else "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(f"unknown time zone {timezone!r}", field="settings.timezone")
    order = _topological(nodes, edges, problems)
    if nodes and not any(registry.is_trigger(node.type) for node in nodes.values()):
        problems.add("a workflow needs a trigger node (e.g. trigger.manual)", field="nodes")
    problems.raise_if_any()
    return Document(
        nodes=nodes,
        edges=edges,
        timezone=timezone,
        timeout_s=float(settings.get("timeout_s", 3600.0)),
        concurrency=int(settings.get("concurrency", 10)),
        order=order,
    )


def _nodes(raw_nodes: list[Any], registry: NodeRegistry, problems: _Problems) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for index, raw in enumerate(raw_nodes):
        node = _node(index, raw, nodes, registry, problems)
        if node is not None:
            nodes[node.id] = node
    return nodes


def _identity(
    index: int, raw: Any, nodes: dict[str, Node], registry: NodeRegistry, problems: _Problems
) -> tuple[str, NodeType] | None:
    """The node's id and type, or None (with the problem added) when either is unusable."""
    if not isinstance(raw, dict):
        problems.add("must be an object", field=f"nodes[{index}]")
        return None
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not NODE_ID.fullmatch(node_id):
        problems.add("must be 1–64 letters, digits, _ or -", field=f"nodes[{index}].id")
        return None
    if node_id in nodes:
        problems.add("is used by two nodes", node=node_id, field="id")
        return None
    type_name = raw.get("type")
    node_type = registry.get(type_name) if isinstance(type_name, str) else None
    if node_type is None:
        problems.add(f"unknown node type {type_name!r}", node=node_id, field="type")
        return None
    version = raw.get("version", node_type.version)
    if version != node_type.version:
        problems.add(
            f"{type_name} has version {node_type.version}, not {version!r}", node=node_id, field="version"
        )
    return node_id, node_type


def _node(
    index: int, raw: Any, nodes: dict[str, Node], registry: NodeRegistry, problems: _Problems
) -> Node | None:
    identity = _identity(index, raw, nodes, registry, problems)
    if identity is None:
        return None
    node_id, node_type = identity
    params = raw.get("params", {})
    if len(orjson.dumps(params)) > MAX_PARAMS_BYTES:
        problems.add(f"more than {MAX_PARAMS_BYTES} bytes", node=node_id, field="params")
        return None
    extra_check = getattr(node_type, "check_params", None)
    found = schema.check(node_type.schema, params) + template_errors(params)
    if not found and callable(extra_check):
        found = list(extra_check(params))
    settings = raw.get("settings") or {}
    found += schema.check(NODE_SETTINGS_SCHEMA, settings, "settings")
    for where, message in found:
        problems.add(message, node=node_id, field=where)
    name = _presentation(raw, node_id, problems)
    if not isinstance(params, dict) or not isinstance(settings, dict):
        return None
    return Node(
        id=node_id,
        type=node_type.type,
        version=node_type.version,
        name=name,
        params=params,
        settings=NodeSettings(
            **{k: v for k, v in settings.items() if k in NODE_SETTINGS_SCHEMA["properties"]}
        ),
    )


def _presentation(raw: dict[str, Any], node_id: str, problems: _Problems) -> str:
    """The node's display name (its id when the name is unusable); `ui` must be `{x, y}` numbers."""
    name = raw.get("name", node_id)
    if not isinstance(name, str) or len(name) > 128:
        problems.add("must be text of at most 128 characters", node=node_id, field="name")
    ui = raw.get("ui", {})
    if not isinstance(ui, dict) or not all(isinstance(ui.get(k, 0), int | float) for k in ("x", "y")):
        problems.add("must be {x, y} numbers", node=node_id, field="ui")
    return name if isinstance(name, str) else node_id


def _edges(
    raw_edges: list[Any], nodes: dict[str, Node], registry: NodeRegistry, problems: _Problems
) -> list[Edge]:
    edges: list[Edge] = []
    seen: set[str] = set()
    links: set[tuple[str, str, str, str]] = set()
    for index, raw in enumerate(raw_edges):
        if not isinstance(raw, dict):
            problems.add("must be an object", field=f"edges[{index}]")
            continue
        edge_id = raw.get("id") or f"e{index}"
        if not isinstance(edge_id, str) or len(edge_id) > 64 or edge_id in seen:
            problems.add("must be a unique id of at most 64 characters", field=f"edges[{index}].id")
            continue
        seen.add(edge_id)
        source, target = raw.get("source"), raw.get("target")
        source_port, target_port = raw.get("source_port", "main"), raw.get("target_port", "main")
        if source not in nodes:
            problems.add(f"names no node of this workflow: {source!r}", edge=edge_id, field="source")
            continue
        if target not in nodes:
            problems.add(f"names no node of this workflow: {target!r}", edge=edge_id, field="target")
            continue
        assert isinstance(source, str) and isinstance(target, str)
        source_type, target_type = registry.get(nodes[source].type), registry.get(nodes[target].type)
        assert source_type is not None and target_type is not None
        outputs = set(source_type.outputs)
        if nodes[source].settings.on_error == "error_port":
            outputs.add(ERROR_PORT)
        if source_port not in outputs:
            problems.add(
                f"{source!r} ({source_type.type}) has no output port {source_port!r}",
                edge=edge_id,
                field="source_port",
            )
        if target_port not in target_type.inputs:
            problems.add(
                f"{target!r} ({target_type.type}) has no input port {target_port!r}",
                edge=edge_id,
                field="target_port",
            )
        link = (source, str(source_port), target, str(target_port))
        if link in links:
            problems.add("duplicates another edge", edge=edge_id, field="source")
        links.add(link)
        edges.append(Edge(edge_id, source, str(source_port), target, str(target_port)))
    return edges


def _topological(nodes: dict[str, Node], edges: list[Edge], problems: _Problems) -> list[str]:
    indegree = {node_id: 0 for node_id in nodes}
    after: defaultdict[str, list[str]] = defaultdict(list)
    for edge in edges:
        indegree[edge.target] += 1
        after[edge.source].append(edge.target)
    ready = deque(node_id for node_id in nodes if indegree[node_id] == 0)
    order: list[str] = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for target in after[node_id]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if len(order) < len(nodes):
        stuck = sorted(node_id for node_id, count in indegree.items() if count > 0)
        problems.add(
            "is part of a cycle; workflows must be acyclic (loop over items instead)",
            node=stuck[0],
            field="edges",
        )
    return order
