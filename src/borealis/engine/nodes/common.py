"""Helpers the node types share: reading numbers and text out of parameters, naming the agents a job
targets, judging job results, and reading an HTTP answer.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson

from borealis.engine.errors import NodeError
from borealis.protocol.jobs import JobState

MAX_NUMBER_TEXT = 64
MAX_TEXT_CHARS = 1024 * 1024


def number(value: Any, name: str) -> int | float:
    """`value` as a number: JSON numbers, or text that reads as one (`"42"`, `"3.5"`)."""
    if isinstance(value, bool) or value is None:
        raise NodeError(f"{name} is {value!r}, not a number", retryable=False)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and len(value) <= MAX_NUMBER_TEXT:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            parsed = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(parsed):
                return parsed
    raise NodeError(f"{name} is {str(value)[:80]!r}, not a number", retryable=False)


def as_text(value: Any, name: str = "value") -> str:
    """`value` as text: strings as they are, null as "", numbers and booleans as JSON writes them."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float):
        text = orjson.dumps(value).decode()
    else:
        raise NodeError(f"{name} is {type(value).__name__}, not text", retryable=False)
    if len(text) > MAX_TEXT_CHARS:
        raise NodeError(f"{name} is longer than {MAX_TEXT_CHARS} characters", retryable=False)
    return text


def fail_unless_all_succeeded(results: list[dict[str, Any]], params: dict[str, Any], what: str) -> None:
    """With `fail_on_error`, a `NodeError` naming the agents whose row is not `succeeded`."""
    failed = [str(row["agent_id"]) for row in results if row["status"] != JobState.SUCCEEDED]
    if failed and params.get("fail_on_error"):
        raise NodeError(
            f"{what} did not succeed on {len(failed)} agent(s): {', '.join(failed[:10])}", retryable=False
        )


def target_of(params: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """`target` as given, or `{agents: [...]}` from each item's `agent_field` (default `agent_id`)."""
    target = params.get("target")
    if isinstance(target, dict) and target:
        return target
    field = str(params.get("agent_field", "agent_id"))
    agents = sorted(
        {
            str(entry["json"][field])
            for entry in items
            if isinstance(entry.get("json"), dict) and entry["json"].get(field)
        }
    )
    if not agents:
        raise NodeError(
            f"no target: neither params.target nor an item field {field!r} names agents", retryable=False
        )
    return {"agents": agents}


def checked_answer(
    response: httpx.Response, method: str, url: str, *, fail_on_status: bool, max_text: int | None = None
) -> Any:
    """The response's body (JSON when it parses, else text, cut at `max_text` characters); with
    `fail_on_status`, a `NodeError` for a 4xx or 5xx answer, retryable for 5xx and 429.
    """
    status = response.status_code
    if status >= 400 and fail_on_status:
        raise NodeError(f"{method} {url[:200]} answered {status}", retryable=status >= 500 or status == 429)
    try:
        return response.json()
    except ValueError:
        return response.text if max_text is None else response.text[:max_text]


# The schema properties every agents.* node shares: which agents (`target`, or an item field naming one).
TARGET_PROPERTIES: dict[str, dict[str, object]] = {
    "target": {"type": "object"},
    "agent_field": {"type": "string", "maxLength": 64},
}
