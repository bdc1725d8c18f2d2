"""The node types a workflow can use, one module each under `engine/nodes/`, in one registry that
also serves their catalog (`/api/v1/workflow-node-types`): type, version, category, ports, docs and
the parameter JSON Schema.
"""

from __future__ import annotations

import importlib
from typing import Any

from borealis.engine.nodes.base import ERROR_PORT, NodeType

BUILTIN_MODULES = (
    "trigger_manual",
    "trigger_webhook",
    "trigger_schedule",
    "trigger_poll",
    "logic_condition",
    "logic_switch",
    "logic_compare",
    "logic_math",
    "logic_merge",
    "logic_delay",
    "logic_loop",
    "data_set",
    "data_json_path",
    "data_regex",
    "data_text",
    "data_csv",
    "http_request",
    "agents_run_script",
    "agents_inventory",
    "agents_updates",
    "agents_screenshot",
    "image_crop",
    "image_resize",
    "image_grayscale",
    "image_threshold",
    "image_ocr",
    "notify_webhook",
    "notify_email",
)


class NodeRegistry:
    """The node types by name (the built-in ones unless `types` is given), and their catalog."""

    def __init__(self, types: list[NodeType] | None = None) -> None:
        self._types: dict[str, NodeType] = {}
        for node_type in types if types is not None else _builtin_types():
            self.register(node_type)

    def register(self, node_type: NodeType) -> None:
        if node_type.type in self._types:
            raise ValueError(f"node type {node_type.type!r} is registered twice")
        self._types[node_type.type] = node_type

    def get(self, name: str) -> NodeType | None:
        return self._types.get(name)

    def is_trigger(self, name: str) -> bool:
        node_type = self._types.get(name)
        return node_type is not None and node_type.category == "trigger"

    def catalog(self) -> list[dict[str, Any]]:
        return [
            {
                "type": t.type,
                "version": t.version,
                "category": t.category,
                "title": t.title,
                "doc": t.doc,
                "inputs": list(t.inputs),
                "outputs": list(t.outputs),
                "error_port": ERROR_PORT,
                "schema": t.schema,
            }
            for t in sorted(self._types.values(), key=lambda t: (t.category, t.type))
        ]


def _builtin_types() -> list[NodeType]:
    found: list[NodeType] = []
    for name in BUILTIN_MODULES:
        try:
            module = importlib.import_module(f"borealis.engine.nodes.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"borealis.engine.nodes.{name}":
                continue  # not written yet: the catalog lists what exists
            raise
        found.append(module.NODE)
    return found
