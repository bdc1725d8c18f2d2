"""`trigger.poll`: a run started when an HTTP API shows items it has not shown before.

The node's `poll` reads the API once (through the SSRF guard), takes the list at `items_path`, keys
each item by `key_path`, and returns the items whose keys are not among those it has seen, with the
state to keep: the last `max_keys` keys and the cursor. The server's poller calls it every
`interval_s` and stores that state in the same transaction as the run it starts, so a change fires
once, including across a restart. Its `run` passes the new items on, as other triggers do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from borealis.engine.expressions import ExpressionError, compile_expression, evaluate
from borealis.engine.nodes.base import MAIN, Item, NodeContext, NodeError, Ports, item

DEFAULT_INTERVAL_S = 300.0
MIN_INTERVAL_S = 1.0
DEFAULT_MAX_KEYS = 10_000
MAX_KEYS = 100_000
MAX_ITEMS = 10_000
MAX_KEY_CHARS = 200
SOURCE_PARAMS = ("url", "method", "query", "body", "items_path", "key_path", "cursor_param", "cursor_path")


@dataclass(frozen=True)
class Polled:
    items: list[Item]  # the items not seen before (empty on the first poll unless emit_initial)
    state: dict[str, Any]  # {keys: [...], cursor} to keep for the next poll


def key_of(data: dict[str, Any], key_path: str | None) -> str:
    """An item's de-duplication key: `key_path`'s value over the item as text (long ones hashed), or,
    without a key path or when it gives null, a hash of the whole item.
    """
    value = evaluate(key_path, data) if key_path else None
    if value is None:
        return "sha256:" + hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if len(text) > MAX_KEY_CHARS:
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text


def source_of(params: dict[str, Any]) -> str:
    """What the keys were read from: when it changes (another URL, items or key path) the keys and the
    cursor no longer mean anything, and the next poll starts again from a first poll. Headers are not
    part of it, so a rotated token keeps the keys.
    """
    named = {name: params.get(name) for name in SOURCE_PARAMS}
    return hashlib.sha256(orjson.dumps(named, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def interval_of(params: dict[str, Any]) -> float:
    """Seconds between polls: `interval_s`, at least the minimum (the default when it is not a number)."""
    try:
        return max(MIN_INTERVAL_S, float(params.get("interval_s", DEFAULT_INTERVAL_S)))
    except (TypeError, ValueError):
        return DEFAULT_INTERVAL_S


class PollTrigger:
    type = "trigger.poll"
    version = 1
    category = "trigger"
    trigger = "poll"
    title = "Poll an HTTP API"
    doc = (
        "Every `interval_s` (default 300, at least 1) the server calls `url` (`method` GET or POST, "
        "`headers`, `query`; loopback and link-local addresses need server.toml's workflow_http_allow) "
        "and reads the JSON answer. `items_path` (JMESPath over the answer, default `@`) gives the list "
        "of items; `key_path` (JMESPath over each item, e.g. `id`) gives its de-duplication key (default: "
        "a hash of the whole item, so any change to an item counts as new). Items whose keys were not "
        "seen before start ONE run together, as that run's items. The first poll only records what is "
        "there (unless `emit_initial: true`), and so does the first poll after `url`, `method`, `query`, "
        "`body` or a path changed. The last `max_keys` keys (default 10,000) and the cursor "
        "are kept in the database, so a restart neither loses nor repeats a change. With `cursor_path` "
        "(JMESPath over the answer, e.g. `next_since`) the value found is sent as the query parameter "
        "`cursor_param` on the next poll. With several server processes each interval is polled by one "
        "of them. At most 10,000 items per answer. The last error, if any, is kept in the node's state."
    )
    inputs: tuple[str, ...] = ()
    outputs = (MAIN,)
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "minLength": 1, "maxLength": 4096},
            "method": {"type": "string", "enum": ["GET", "POST"]},
            "headers": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 8192}},
            "query": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
            "body": {},
            "items_path": {"type": "string", "minLength": 1, "maxLength": 1000},
            "key_path": {"type": "string", "minLength": 1, "maxLength": 1000},
            "interval_s": {"type": "number", "minimum": MIN_INTERVAL_S, "maximum": 7 * 86400},
            "cursor_param": {"type": "string", "minLength": 1, "maxLength": 128},
            "cursor_path": {"type": "string", "minLength": 1, "maxLength": 1000},
            "emit_initial": {"type": "boolean"},
            "max_keys": {"type": "integer", "minimum": 1, "maximum": MAX_KEYS},
            "timeout_s": {"type": "number", "minimum": 0.1, "maximum": 120},
        },
    }

    def check_params(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        problems = []
        for name in ("items_path", "key_path", "cursor_path"):
            if name in params:
                try:
                    compile_expression(str(params[name]))
                except ExpressionError as exc:
                    problems.append((f"params.{name}", str(exc)))
        if ("cursor_param" in params) != ("cursor_path" in params):
            problems.append(("params.cursor_param", "cursor_param and cursor_path go together"))
        return problems

    async def run(self, ctx: NodeContext, inputs: Ports) -> Ports:
        return {MAIN: inputs.get(MAIN, [])}

    async def poll(self, ctx: NodeContext, state: dict[str, Any]) -> Polled:
        """One poll: the items not seen before, and the state to keep. Raises NodeError on failure."""
        params = ctx.params_for(None)
        source = source_of(ctx.params)
        if state.get("source") != source:
            state = {}  # a new source: start again from a first poll
        cursor = state.get("cursor")
        answer = await _fetch(ctx, params, cursor)
        found = evaluate(str(params.get("items_path") or "@"), answer)
        elements = found if isinstance(found, list) else [] if found is None else [found]
        if len(elements) > MAX_ITEMS:
            raise NodeError(
                f"the answer holds more than {MAX_ITEMS} items; page with a cursor", retryable=False
            )
        key_path = str(params["key_path"]) if params.get("key_path") else None
        seen_before = state.get("keys")
        fresh, current = _new_items(elements, key_path, set(seen_before or []))
        # This answer's keys are the last to be dropped, so an item never fires twice while it stays
        # listed (with max_keys at least the list's length); older keys fill the rest.
        max_keys = int(params.get("max_keys", DEFAULT_MAX_KEYS))
        older = [key for key in seen_before or [] if key not in current]
        kept: dict[str, Any] = {"keys": [*older, *current][-max_keys:], "cursor": cursor, "source": source}
        if params.get("cursor_path"):
            next_cursor = evaluate(str(params["cursor_path"]), answer)
            if isinstance(next_cursor, str | int | float) and not isinstance(next_cursor, bool):
                kept["cursor"] = next_cursor
        if seen_before is None and not params.get("emit_initial"):
            fresh = []  # the first poll records what is there
        return Polled(items=fresh, state=kept)


async def _fetch(ctx: NodeContext, params: dict[str, Any], cursor: Any) -> Any:
    """The source's answer as JSON (the cursor, if any, sent as `cursor_param`)."""
    query = {str(k): str(v) for k, v in (params.get("query") or {}).items()}
    if params.get("cursor_param") and cursor is not None:
        query[str(params["cursor_param"])] = str(cursor)
    method = str(params.get("method", "GET")).upper()
    body = params.get("body")
    headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
    if body is not None:
        headers.setdefault("content-type", "application/json")
    response = await ctx.services.http(
        method,
        str(params.get("url", "")),
        headers=headers,
        params=query,
        content=None if body is None else orjson.dumps(body),
        timeout_s=float(params.get("timeout_s", 30.0)),
    )
    if response.status_code >= 400:
        raise NodeError(f"{method} {str(params.get('url'))[:200]} answered {response.status_code}")
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise NodeError("the answer is not JSON", retryable=False) from None


def _new_items(
    elements: list[Any], key_path: str | None, known: set[str]
) -> tuple[list[Item], dict[str, None]]:
    """The items whose key is not `known`, and this answer's keys in order (each once)."""
    fresh: list[Item] = []
    current: dict[str, None] = {}
    for element in elements:
        entry = item(element)
        key = key_of(entry["json"], key_path)
        if key in current:
            continue
        current[key] = None
        if key not in known:
            fresh.append(entry)
    return fresh, current


NODE = PollTrigger()
