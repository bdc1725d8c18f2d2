"""`logic.math`: arithmetic on each item (add, subtract, multiply, divide, modulo, round, abs) or over
all items (sum, min, max, avg, count).
"""

from __future__ import annotations

import math
from typing import Any

from borealis.engine.nodes.base import Item, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import number

PER_ITEM = ("add", "subtract", "multiply", "divide", "modulo", "round", "abs")
OVER_ITEMS = ("sum", "min", "max", "avg", "count")
MAX_DIGITS = 15
INT_BITS = 64  # results outside signed 64 bits are refused: JSON readers downstream lose them


def _bounded(result: int | float, operation: str) -> int | float:
    if isinstance(result, int) and result.bit_length() >= INT_BITS:
        raise NodeError(f"{operation} gave a number outside 64 bits", retryable=False)
    if isinstance(result, float) and not math.isfinite(result):
        raise NodeError(f"{operation} gave {result}, not a finite number", retryable=False)
    return result


def _apply(operation: str, a: int | float, b: int | float | None, digits: int) -> int | float:
    if operation == "abs":
        return abs(a)
    if operation == "round":
        return round(a) if digits == 0 else round(a, digits)
    if b is None:
        raise NodeError(f"{operation} needs `b`", retryable=False)
    if operation in ("divide", "modulo") and b == 0:
        raise NodeError(f"{operation} by zero ({a} / 0)", retryable=False)
    if operation == "add":
        return a + b
    if operation == "subtract":
        return a - b
    if operation == "multiply":
        return a * b
    if operation == "divide":
        return a / b
    return a % b


class Math:
    type = "logic.math"
    version = 1
    category = "logic"
    title = "Math"
    doc = (
        "Per item (`add`, `subtract`, `multiply`, `divide`, `modulo`, `round`, `abs`): computes `a` op `b` "
        "(numbers, or expressions such as `{{ json.used }}`; numeric text is read as a number) and writes "
        "the result into the item's field `into` (default `result`); `round` rounds `a` to `digits` "
        "places. Over all items (`sum`, `min`, `max`, `avg`, `count`): reads `value` per item "
        "(`{{ json.size }}`) and emits one item `{<into>: result, count}`; min, max and avg of no values "
        "are null, and items whose value is null are skipped. Division or modulo by zero, a value that "
        "is not a number, and results that are not finite or do not fit in 64 bits fail the node "
        "(not retried)."
    )
    inputs = ("main",)
    outputs = ("main",)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["operation"],
        "properties": {
            "operation": {"type": "string", "enum": [*PER_ITEM, *OVER_ITEMS]},
            "a": {"type": ["number", "string"]},
            "b": {"type": ["number", "string"]},
            "digits": {"type": "integer", "minimum": 0, "maximum": MAX_DIGITS},
            "value": {"type": ["number", "string"]},
            "into": {"type": "string", "minLength": 1, "maxLength": 128},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        operation = params.get("operation")
        if operation in PER_ITEM and "a" not in params:
            return [("params.a", f"is required for {operation}")]
        if operation in PER_ITEM and operation not in ("round", "abs") and "b" not in params:
            return [("params.b", f"is required for {operation}")]
        if operation in OVER_ITEMS and operation != "count" and "value" not in params:
            return [("params.value", f"is required for {operation}")]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        operation = str(ctx.params.get("operation", ""))
        items = all_items(inputs)
        if operation in OVER_ITEMS:
            return {"main": [self._over(ctx, operation, items)]}
        if operation not in PER_ITEM:
            raise NodeError(f"unknown operation {operation!r}", retryable=False)
        out = []
        for entry in items:
            params = ctx.params_for(entry)
            a = number(params.get("a"), "a")
            b = number(params["b"], "b") if operation not in ("round", "abs") else None
            digits = int(number(params.get("digits", 0), "digits"))
            if not 0 <= digits <= MAX_DIGITS:
                raise NodeError(f"digits must be 0–{MAX_DIGITS}", retryable=False)
            result = _bounded(_apply(operation, a, b, digits), operation)
            into = str(params.get("into") or "result")
            out.append(
                {"json": {**(entry.get("json") or {}), into: result}, "binary_ref": entry.get("binary_ref")}
            )
        return {"main": out}

    @staticmethod
    def _over(ctx: NodeContext, operation: str, items: list[Item]) -> Item:
        into = str(ctx.params.get("into") or "result")
        if operation == "count":
            return {"json": {into: len(items), "count": len(items)}, "binary_ref": None}
        values: list[int | float] = []
        for index, entry in enumerate(items):
            raw = ctx.params_for(entry).get("value")
            if raw is not None:
                values.append(number(raw, f"value of item {index}"))
        result: int | float | None
        if operation == "sum":
            result = math.fsum(values) if any(isinstance(v, float) for v in values) else sum(values)
        elif not values:
            result = None
        elif operation == "min":
            result = min(values)
        elif operation == "max":
            result = max(values)
        else:
            result = math.fsum(values) / len(values)
        if result is not None:
            result = _bounded(result, operation)
        return {"json": {into: result, "count": len(values)}, "binary_ref": None}


NODE = Math()
