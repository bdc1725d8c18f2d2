"""`data.text`: text operations on a value of each item — trim, upper, lower, split, join, template,
substring, length, replace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from borealis.engine.nodes.base import MAIN, NodeContext, NodeError, Ports, all_items
from borealis.engine.nodes.common import MAX_TEXT_CHARS, as_text

OPERATIONS = ("trim", "upper", "lower", "split", "join", "template", "substring", "length", "replace")
MAX_PARTS = 10_000


def _operate(operation: str, params: dict[str, Any]) -> Any:
    if operation == "template":
        return as_text(params.get("template"), "template")
    if operation == "join":
        return _join(params)
    text = as_text(params.get("value"))
    if operation == "trim":
        characters = params.get("characters")
        return text.strip(as_text(characters, "characters") if characters else None)
    if operation in SIMPLE:
        return SIMPLE[operation](text)
    if operation == "substring":
        start, end = params.get("start", 0), params.get("end")
        return text[int(start) : None if end is None else int(end)]
    if operation == "replace":
        return _replace(text, params)
    return _split(text, params)


SIMPLE: dict[str, Callable[[str], Any]] = {"upper": str.upper, "lower": str.lower, "length": len}


def _join(params: dict[str, Any]) -> str:
    value = params.get("value")
    if not isinstance(value, list):
        raise NodeError("join needs `value` to be a list", retryable=False)
    joined = as_text(params.get("separator", ""), "separator").join(
        as_text(part, f"value[{index}]") for index, part in enumerate(value[:MAX_PARTS])
    )
    return as_text(joined, "the joined text")


def _replace(text: str, params: dict[str, Any]) -> str:
    find, replacement = as_text(params.get("find"), "find"), as_text(params.get("with"), "with")
    if not find:
        raise NodeError("replace needs a non-empty `find`", retryable=False)
    if len(text) + text.count(find) * (len(replacement) - len(find)) > MAX_TEXT_CHARS:
        raise NodeError(f"replace would give more than {MAX_TEXT_CHARS} characters", retryable=False)
    return text.replace(find, replacement)


def _split(text: str, params: dict[str, Any]) -> list[str]:
    separator = as_text(params.get("separator"), "separator") or None  # "" or absent = whitespace
    parts = text.split(separator, MAX_PARTS)
    if len(parts) > MAX_PARTS:
        raise NodeError(f"split gives more than {MAX_PARTS} parts", retryable=False)
    return parts


class Text:
    type = "data.text"
    version = 1
    category = "data"
    title = "Text"
    doc = (
        "For each item, applies `operation` to `value` (usually an expression: `{{ json.stdout }}`) and "
        "writes the result into the item's field `into` (default `result`). `trim` (whitespace, or the "
        "`characters` given), `upper`, `lower`, `length`, `substring` (`start`, `end`: Python-style "
        "indexes, negative from the end), `replace` (every `find` with `with`), `split` (on `separator`, "
        "default whitespace; a list), `join` (a list `value` with `separator`), `template` (`template` is "
        "text with `{{ … }}` expressions, rendered once per item). Texts are at most 1 MiB; split and "
        "join handle at most 10,000 parts."
    )
    inputs = (MAIN,)
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["operation"],
        "properties": {
            "operation": {"type": "string", "enum": list(OPERATIONS)},
            "value": {},
            "into": {"type": "string", "minLength": 1, "maxLength": 128},
            "characters": {"type": "string", "maxLength": 256},
            "separator": {"type": "string", "maxLength": 256},
            "start": {"type": "integer"},
            "end": {"type": ["integer", "null"]},
            "find": {"type": "string", "minLength": 1, "maxLength": 10_000},
            "with": {"type": "string", "maxLength": 10_000},
            "template": {"type": "string", "maxLength": 65_536},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        operation = params.get("operation")
        if operation == "template" and "template" not in params:
            return [("params.template", "is required for template")]
        if operation == "replace" and "find" not in params:
            return [("params.find", "is required for replace")]
        if operation not in ("template",) and "value" not in params:
            return [("params.value", f"is required for {operation}")]
        return []

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        operation = str(ctx.params.get("operation", ""))
        if operation not in OPERATIONS:
            raise NodeError(f"unknown operation {operation!r}", retryable=False)
        out = []
        for entry in all_items(inputs):
            params = ctx.params_for(entry)
            try:
                result = _operate(operation, params)
            except (TypeError, ValueError) as exc:
                raise NodeError(f"{operation}: {exc}", retryable=False) from None
            into = str(params.get("into") or "result")
            out.append(
                {"json": {**(entry.get("json") or {}), into: result}, "binary_ref": entry.get("binary_ref")}
            )
        return {MAIN: out}


NODE = Text()
