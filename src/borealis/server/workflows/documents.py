"""What saving a workflow document involves besides the engine's check: its webhook triggers, its agent
steps (which need `jobs:run`), and library scripts pinned to a version and hash."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.errors import InvalidInput, NotFound
from borealis.engine.document import Document
from borealis.engine.registry import NodeRegistry
from borealis.server.jobs.spec import pin_script


def webhook_nodes(document: Document) -> set[str]:
    """The ids of the document's webhook triggers (each has a secret URL)."""
    return {node.id for node in document.nodes.values() if node.type == "trigger.webhook"}


def agent_nodes(document: Document, registry: NodeRegistry) -> list[str]:
    """The nodes that make agents run something: saving or enabling them needs `jobs:run`."""
    return sorted(
        node.id
        for node in document.nodes.values()
        if getattr(registry.get(node.type), "category", "") == "agents"
    )


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
