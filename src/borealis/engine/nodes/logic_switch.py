"""`logic.switch`: each item goes out of one numbered port (`0`…`9`) chosen by rules or by the value
of an expression, or out of `fallback` when nothing matches.
"""

from __future__ import annotations

from typing import Any

from borealis.engine.expressions import (
    ExpressionError,
    compile_expression,
    condition,
    evaluate,
)
from borealis.engine.nodes.base import Item, NodeContext, Ports, all_items

MAX_OUTPUTS = 10
FALLBACK = "fallback"
OUTPUTS = (*(str(index) for index in range(MAX_OUTPUTS)), FALLBACK)


class Switch:
    type = "logic.switch"
    version = 1
    category = "logic"
    title = "Switch"
    doc = (
        "Routes each item to one of the ports `0`…`9`, or to `fallback`. `mode: rules` (default): `rules` "
        "is a list of conditions (JMESPath over `json`, `items`, `nodes`, `trigger`, `run`, as in "
        "logic.condition); rule i sends the item to port `i`. The first rule that holds wins, or with "
        "`all_matches: true` every rule that holds gets a copy. `mode: expression`: `expression` is "
        "evaluated per item; with `cases` (a list of values) the item goes to the port numbered by the "
        "position of its value in `cases`; without, the value itself must be a port number 0–9. Items "
        "that match nothing go to `fallback`."
    )
    inputs = ("main",)
    outputs = OUTPUTS
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "mode": {"type": "string", "enum": ["rules", "expression"]},
            "rules": {
                "type": "array",
                "maxItems": MAX_OUTPUTS,
                "items": {"type": "string", "minLength": 1, "maxLength": 1000},
            },
            "all_matches": {"type": "boolean"},
            "expression": {"type": "string", "minLength": 1, "maxLength": 1000},
            "cases": {"type": "array", "maxItems": MAX_OUTPUTS},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if params.get("mode", "rules") == "expression":
            if not params.get("expression"):
                return [("params.expression", "is required when mode is expression")]
            expressions = [("params.expression", str(params["expression"]))]
        else:
            if not params.get("rules"):
                return [("params.rules", "needs at least one rule when mode is rules")]
            expressions = [(f"params.rules[{i}]", str(rule)) for i, rule in enumerate(params["rules"])]
        for where, text in expressions:
            try:
                compile_expression(text)
            except ExpressionError as exc:
                problems.append((where, str(exc)))
        return problems

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        out: dict[str, list[Item]] = {port: [] for port in OUTPUTS}
        by_expression = ctx.params.get("mode", "rules") == "expression"
        for entry in all_items(inputs):
            ports = self._by_expression(ctx, entry) if by_expression else self._by_rules(ctx, entry)
            for port in ports or [FALLBACK]:
                out[port].append(entry)
        return {port: items for port, items in out.items() if items}

    @staticmethod
    def _by_rules(ctx: NodeContext, entry: Item) -> list[str]:
        rules = ctx.params.get("rules") or []
        every = bool(ctx.params.get("all_matches"))
        scope = ctx.scope.with_item(entry)
        matched: list[str] = []
        for index, rule in enumerate(rules[:MAX_OUTPUTS]):
            if condition(str(rule), scope):
                matched.append(str(index))
                if not every:
                    break
        return matched

    @staticmethod
    def _by_expression(ctx: NodeContext, entry: Item) -> list[str]:
        value = evaluate(str(ctx.params.get("expression", "")), ctx.scope.with_item(entry).data())
        cases = ctx.params.get("cases")
        if isinstance(cases, list):
            for index, case in enumerate(cases[:MAX_OUTPUTS]):
                if _same(case, value):
                    return [str(index)]
            return []
        if isinstance(value, bool) or not isinstance(value, int | float):
            return []
        if isinstance(value, float) and not value.is_integer():
            return []
        return [str(int(value))] if 0 <= value < MAX_OUTPUTS else []


def _same(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`, `1` is `1.0`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


NODE = Switch()
