"""`logic.condition`: each item goes out of `true` or `false` by a condition expression."""

from __future__ import annotations

from typing import Any

from borealis.engine.expressions import ExpressionError, compile_expression, condition
from borealis.engine.nodes.base import Item, NodeContext, Ports, all_items


class Condition:
    type = "logic.condition"
    version = 1
    category = "logic"
    title = "Condition"
    doc = (
        "Sends each item to `true` or `false`. `condition` is a JMESPath expression over `json` (the item), "
        "`items`, `nodes.<id>.output`, `trigger` and `run`, e.g. `json.exit_code == `0``; false, null, "
        "empty text, list or object are false."
    )
    inputs = ("main",)
    outputs = ("true", "false")
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["condition"],
        "properties": {"condition": {"type": "string", "minLength": 1, "maxLength": 1000}},
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        try:
            compile_expression(str(params.get("condition", "")))
        except ExpressionError as exc:
            return [("params.condition", str(exc))]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        expression = str(ctx.params.get("condition", ""))
        passed: list[Item] = []
        failed: list[Item] = []
        for entry in all_items(inputs):
            (passed if condition(expression, ctx.scope.with_item(entry)) else failed).append(entry)
        return {"true": passed, "false": failed}


NODE = Condition()
