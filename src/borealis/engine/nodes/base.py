"""The node contract (DESIGN §11): what a node type declares and what it is given when it runs.

A node type is an object with `type` (`category.name`), `version`, `category`, `title`, `doc`, input
and output port names, a JSON Schema for its parameters (served to the canvas), and
`run(ctx, inputs) -> outputs`: lists of items per input port in, lists of items per output port out.
An item is `{"json": <object>, "binary_ref": <str | None>}`. A node raises `NodeError` for a failure
the workflow's author should see (bad parameter after rendering, HTTP 500 from a service); the engine
applies the node's retries, timeout and error policy. Nothing here touches the database directly:
what a node needs from its host comes through `ctx.services` (`engine.services.NodeServices`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from borealis.engine.errors import NodeError as NodeError
from borealis.engine.expressions import Scope, render

if TYPE_CHECKING:
    from borealis.engine.services import NodeServices

Item = dict[str, Any]
Ports = dict[str, list[Item]]
MAIN = "main"
ERROR_PORT = "error"


def item(json: Any, binary_ref: str | None = None) -> Item:
    """An item of `json` (a non-object wrapped as `{"value": …}`) and an optional binary reference."""
    return {"json": json if isinstance(json, dict) else {"value": json}, "binary_ref": binary_ref}


@dataclass
class NodeContext:
    """One node's run: its raw parameters, the run's scope for expressions, and the host's services."""

    run_id: str
    workflow_id: str
    node_id: str
    params: dict[str, Any]
    scope: Scope
    services: NodeServices
    trigger: dict[str, Any] = field(default_factory=dict)
    actor: str = ""

    def render(self, value: Any, current: Item | None = None) -> Any:
        """`value` with every `{{ … }}` evaluated against this run (and `current` as `json`)."""
        return render(value, self.scope.with_item(current))

    def params_for(self, current: Item | None = None) -> dict[str, Any]:
        rendered = self.render(self.params, current)
        return rendered if isinstance(rendered, dict) else {}


@runtime_checkable
class NodeType(Protocol):
    type: str
    version: int
    category: str
    title: str
    doc: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    schema: dict[str, Any]

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports: ...


# A node type may also define `check_params(params) -> [(field, message)]` for checks its JSON Schema
# cannot express (an expression that must compile); the document check calls it when the schema passed.


class TriggerType(NodeType, Protocol):
    """A trigger starts runs; `trigger` names what fires it: manual, webhook, schedule or poll."""

    trigger: str


Poller = Callable[[NodeContext], Awaitable[list[Item]]]


def all_items(inputs: Ports) -> list[Item]:
    """The items of every input port, in port order."""
    return [entry for items in inputs.values() for entry in items]
