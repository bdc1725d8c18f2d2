"""`logic.merge`: waits for both of its inputs and emits their items, appended or paired."""

from __future__ import annotations

from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, Ports


class Merge:
    type = "logic.merge"
    version = 1
    category = "logic"
    title = "Merge"
    doc = (
        "Runs once every node feeding it has finished. `append` (default): the items of `in1` then `in2`. "
        "`pair`: item i of `in1` merged with item i of `in2` (their `json` objects combined, `in2` winning)."
    )
    inputs = ("in1", "in2")
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"mode": {"type": "string", "enum": ["append", "pair"]}},
    }

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        first, second = inputs.get("in1", []), inputs.get("in2", [])
        if ctx.params.get("mode") == "pair":
            paired = [
                {"json": {**a.get("json", {}), **b.get("json", {})}, "binary_ref": a.get("binary_ref")}
                for a, b in zip(first, second, strict=False)
            ]
            return {MAIN: paired}
        return {MAIN: [*first, *second]}


NODE = Merge()
