"""Expressions in workflow parameters (DESIGN §11): `{{ … }}` holds a JMESPath expression.

JMESPath is a query language over JSON data: it has no names for Python objects, no imports, no I/O,
no assignment and no loops beyond the data it is given, so an expression can only read the run's data
— `json` (the current item), `items` (the node's input), `nodes.<id>.output` (an earlier node's items),
`trigger` and `run`. Bounds: an expression is at most `MAX_EXPRESSION_CHARS`, its result at most
`MAX_RESULT_BYTES` of JSON, and templates nest at most `MAX_DEPTH` deep in a parameter. A rendered
value is never rendered again: data that looks like `{{ … }}` stays text. Conditions are expressions
too, read with JMESPath's truthiness (false, null, "", [] and {} are false).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.parser
import orjson

from borealis.core.errors import BorealisError

MAX_EXPRESSION_CHARS = 1000
MAX_RESULT_BYTES = 1024 * 1024
MAX_DEPTH = 32
TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(BorealisError, ValueError):
    """An expression that does not parse, or whose result is too large (never worth a retry)."""

    slug = "expression-error"
    title = "Expression error"


@dataclass(frozen=True)
class Scope:
    """What expressions of one node can read."""

    nodes: dict[str, Any] = field(default_factory=dict)
    items: list[Any] = field(default_factory=list)
    trigger: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    json: Any = None

    def with_item(self, current: dict[str, Any] | None) -> Scope:
        if current is None:
            return self
        return replace(self, json=current.get("json"))

    def data(self) -> dict[str, Any]:
        return {
            "json": self.json,
            "items": self.items,
            "nodes": self.nodes,
            "trigger": self.trigger,
            "run": self.run,
        }


@lru_cache(maxsize=1024)
def compile_expression(expression: str) -> jmespath.parser.ParsedResult:
    """The parsed JMESPath expression (cached); `ExpressionError` when it is empty, long or invalid."""
    text = expression.strip()
    if not text:
        raise ExpressionError("an empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"an expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        return jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        raise ExpressionError(f"{text!r} is not a valid expression: {_short(exc)}") from None


def evaluate(expression: str, data: dict[str, Any]) -> Any:
    """The expression's value over `data`; `ExpressionError` when it fails or its result is too large."""
    compiled = compile_expression(expression)
    try:
        result = compiled.search(data)
    except (jmespath.exceptions.JMESPathError, TypeError, ValueError, RecursionError) as exc:
        raise ExpressionError(f"{expression.strip()!r} failed: {_short(exc)}") from None
    if len(orjson.dumps(result, default=str)) > MAX_RESULT_BYTES:
        raise ExpressionError(f"{expression.strip()!r} gives more than {MAX_RESULT_BYTES} bytes")
    return result


def truthy(value: Any) -> bool:
    """JMESPath truth: null, false, and empty text, lists and objects are false."""
    return value not in (None, False, "", [], {})


def condition(expression: str, scope: Scope) -> bool:
    """Whether the expression is truthy in `scope`."""
    return truthy(evaluate(expression, scope.data()))


def render(value: Any, scope: Scope, depth: int = 0) -> Any:
    """`value` with its templates evaluated once. A string that is exactly one template becomes that
    template's value (a number stays a number); templates inside text are written in as text.
    """
    if depth > MAX_DEPTH:
        raise ExpressionError(f"parameters nest deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return _render_text(value, scope)
    if isinstance(value, list):
        return [render(entry, scope, depth + 1) for entry in value]
    if isinstance(value, dict):
        return {key: render(entry, scope, depth + 1) for key, entry in value.items()}
    return value


def _render_text(text: str, scope: Scope) -> Any:
    if "{{" not in text:
        return text
    whole = TEMPLATE.fullmatch(text.strip())
    if whole is not None and text.strip().count("{{") == 1:
        return evaluate(whole.group(1), scope.data())
    data = scope.data()
    return TEMPLATE.sub(lambda match: _as_text(evaluate(match.group(1), data)), text)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def template_errors(value: Any, path: str = "params") -> list[tuple[str, str]]:
    """(field, message) for every template in `value` that does not compile — checked when saving."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        for match in TEMPLATE.finditer(value):
            try:
                compile_expression(match.group(1))
            except ExpressionError as exc:
                found.append((path, str(exc)))
    elif isinstance(value, list):
        for index, entry in enumerate(value):
            found.extend(template_errors(entry, f"{path}[{index}]"))
    elif isinstance(value, dict):
        for key, entry in value.items():
            found.extend(template_errors(entry, f"{path}.{key}"))
    return found


def has_template(value: Any) -> bool:
    """Whether `value` is text holding a `{{ … }}` template."""
    return isinstance(value, str) and "{{" in value


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
