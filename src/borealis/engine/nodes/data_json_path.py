"""`data.json_path`: a JMESPath query over each item, its result written into a field or spread out
as new items.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.expressions import ExpressionError, compile_expression, evaluate
from borealis.engine.nodes.base import MAIN, Item, NodeContext, Ports, all_items, item


class JsonPath:
    type = "data.json_path"
    version = 1
    category = "data"
    title = "JSON path"
    doc = (
        "Evaluates `expression` (JMESPath, written without `{{ }}`) for each item, over `json` (the item), "
        "`items`, `nodes.<id>.output`, `trigger` and `run` — e.g. `json.body.results[?state=='open']`. "
        "`mode: field` (default) writes the result into the item's field `into` (default `result`). "
        "`mode: items` emits the result's elements as new items instead (a list: one item per element; "
        "anything else but null: one item); elements that are not objects become `{value: element}`."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["expression"],
        "properties": {
            "expression": {"type": "string", "minLength": 1, "maxLength": 1000},
            "mode": {"type": "string", "enum": ["field", "items"]},
            "into": {"type": "string", "minLength": 1, "maxLength": 128},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        try:
            compile_expression(str(params.get("expression", "")))
        except ExpressionError as exc:
            return [("params.expression", str(exc))]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        expression = str(ctx.params.get("expression", ""))
        spread = ctx.params.get("mode") == "items"
        into = str(ctx.params.get("into") or "result")
        out: list[Item] = []
        for entry in all_items(inputs):
            result = evaluate(expression, ctx.scope.with_item(entry).data())
            if not spread:
                out.append(
                    {
                        "json": {**(entry.get("json") or {}), into: result},
                        "binary_ref": entry.get("binary_ref"),
                    }
                )
            elif isinstance(result, list):
                out.extend(item(element) for element in result)
            elif result is not None:
                out.append(item(result))
        return {MAIN: out}


NODE = JsonPath()
