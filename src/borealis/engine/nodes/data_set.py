"""`data.set`: each item's `json` gets fields set from values or expressions."""

from __future__ import annotations

from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, Ports, all_items


class SetFields:
    type = "data.set"
    version = 1
    category = "data"
    title = "Set fields"
    doc = (
        "For each item, sets the fields of `values` (each value may be an expression such as "
        "`{{ json.hostname }}`); with `keep_only: true` the item holds only these fields."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["values"],
        "properties": {
            "values": {"type": "object"},
            "keep_only": {"type": "boolean"},
        },
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        out = []
        for entry in all_items(inputs):
            params = ctx.params_for(entry)
            given = params.get("values")
            values: dict[str, Any] = given if isinstance(given, dict) else {}
            base = {} if params.get("keep_only") else dict(entry.get("json") or {})
            out.append({"json": {**base, **values}, "binary_ref": entry.get("binary_ref")})
        return {MAIN: out}


NODE = SetFields()
