"""`logic.compare`: two lists of items matched by a key, sorted into `only_in1`, `only_in2`, `same`
and `different` (a diff of two inventories, two API listings, before and after).
"""

from __future__ import annotations

from typing import Any

import orjson

from borealis.engine.expressions import ExpressionError, compile_expression, evaluate
from borealis.engine.nodes.base import Item, NodeContext, NodeError, Ports

MAX_FIELDS = 100


def _key(value: Any) -> str | None:
    """A value as comparable text (its JSON with sorted keys: `"1"` is not `1`); null stays None."""
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class Compare:
    type = "logic.compare"
    version = 1
    category = "logic"
    title = "Compare lists"
    doc = (
        "Matches the items of `in1` with those of `in2` by `key`, a JMESPath expression over each item "
        "(`json.name`). Items whose key is only in `in1` go out of `only_in1`, only in `in2` out of "
        "`only_in2`. Matched pairs are compared on `fields` (JMESPath expressions; default: the whole "
        "`json`): equal pairs go out of `same` as the `in1` item, unequal ones out of `different` as "
        "`{key, in1, in2, fields}` where `fields` lists the expressions whose values differ. Within one "
        "input the first item with a key counts; later ones with the same key are ignored. An item whose "
        "key is null matches nothing."
    )
    inputs = ("in1", "in2")
    outputs = ("only_in1", "only_in2", "same", "different")
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["key"],
        "properties": {
            "key": {"type": "string", "minLength": 1, "maxLength": 1000},
            "fields": {
                "type": "array",
                "maxItems": MAX_FIELDS,
                "items": {"type": "string", "minLength": 1, "maxLength": 1000},
            },
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        named = [("params.key", params.get("key", ""))]
        named += [(f"params.fields[{i}]", text) for i, text in enumerate(params.get("fields") or [])]
        problems = []
        for where, text in named:
            try:
                compile_expression(str(text))
            except ExpressionError as exc:
                problems.append((where, str(exc)))
        return problems

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        key_expression = str(ctx.params.get("key", ""))
        fields = [str(text) for text in ctx.params.get("fields") or []]
        first = self._keyed(ctx, key_expression, inputs.get("in1", []))
        second = self._keyed(ctx, key_expression, inputs.get("in2", []))
        firsts = {key for key, _, _ in first if key is not None}
        seconds = {key: entry for key, _, entry in second if key is not None}
        out: dict[str, list[Item]] = {
            "only_in1": [entry for key, _, entry in first if key is None or key not in seconds],
            "only_in2": [entry for key, _, entry in second if key is None or key not in firsts],
            "same": [],
            "different": [],
        }
        for key, value, entry in first:
            if key is None or key not in seconds:
                continue
            other = seconds[key]
            differing = self._differences(ctx, fields, entry, other)
            if not differing:
                out["same"].append(entry)
                continue
            out["different"].append(
                {
                    "json": {
                        "key": value,
                        "in1": entry.get("json"),
                        "in2": other.get("json"),
                        "fields": differing,
                    },
                    "binary_ref": None,
                }
            )
        return {port: items for port, items in out.items() if items}

    @staticmethod
    def _keyed(ctx: NodeContext, expression: str, items: list[Item]) -> list[tuple[str | None, Any, Item]]:
        """(key as text, key, item) in input order, the first item of each key only (keyless kept)."""
        seen: set[str] = set()
        keyed: list[tuple[str | None, Any, Item]] = []
        for entry in items:
            value = evaluate(expression, ctx.scope.with_item(entry).data())
            key = _key(value)
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            keyed.append((key, value, entry))
        return keyed

    @staticmethod
    def _differences(ctx: NodeContext, fields: list[str], a: Item, b: Item) -> list[str]:
        if not fields:
            return [] if _key(a.get("json")) == _key(b.get("json")) else ["json"]
        scope_a, scope_b = ctx.scope.with_item(a).data(), ctx.scope.with_item(b).data()
        try:
            return [
                field for field in fields if _key(evaluate(field, scope_a)) != _key(evaluate(field, scope_b))
            ]
        except ExpressionError as exc:
            raise NodeError(str(exc), retryable=False) from None


NODE = Compare()
