"""Edge checks on what a request carries: JSON bodies and query strings hold no value the server
cannot store or send on: no integer outside signed 64 bits, no NaN or ±Infinity, no NUL character.

An ASGI middleware, so the rule holds for every route, free-form parts (job params, workflow
documents, webhook bodies) included. A refusal is a 400 `invalid-input` problem naming the field.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from borealis.server.problems import problem

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
JSON_TYPES = (b"application/json", b"+json")
MAX_FIELD_CHARS = 256  # a path in a refusal is cut here (keys can be long)
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _is_json(scope: Scope) -> bool:
    """FastAPI reads a body without a content type as JSON too, so those are checked as well."""
    content_type = dict(scope.get("headers", [])).get(b"content-type")
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return bool(media == JSON_TYPES[0] or media.endswith(JSON_TYPES[1]))


def _reason(value: Any, surrogates: bool) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if INT64_MIN <= value <= INT64_MAX else "integer outside the signed 64-bit range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "NaN and Infinity are not numbers JSON can hold"
    if isinstance(value, str):
        if "\x00" in value:
            return "text must not contain NUL characters"
        if surrogates and not value.isascii() and not _encodes(value):
            return "text must be valid Unicode (a lone surrogate is not)"
    return None


def _encodes(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def find_bad_value(document: Any, surrogates: bool = True) -> tuple[str, str] | None:
    """The first value (or key) that breaks the rule, as (dotted path, reason); None when all is well.
    `surrogates`: whether text may hold lone surrogates (only `\\uD800`-style escapes make them)."""
    if not _has_bad_value(document, surrogates):
        return None  # the common case, kept fast: no paths are built
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                child = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    return child.replace("\x00", "\\u0000"), "keys must not contain NUL characters"
                if surrogates and _reason(key, surrogates) is not None:
                    return child.encode(errors="backslashreplace").decode(), "keys must be valid Unicode"
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend(
                (f"{path}.{index}" if path else str(index), item)
                for index, item in reversed(list(enumerate(value)))
            )
        else:
            reason = _reason(value, surrogates)
            if reason is not None:
                path = path.replace("\x00", "\\u0000").encode(errors="backslashreplace").decode()
                return path or "body", reason
    return None  # pragma: no cover - the fast scan found something, so this one does too


def _has_bad_value(document: Any, surrogates: bool) -> bool:
    containers: list[Any] = [document]
    while containers:
        container = containers.pop()
        if type(container) is dict:
            if _has_bad_key(container, surrogates):
                return True
            values: Any = container.values()
        elif type(container) is list:
            values = container
        else:
            values = (container,)
        for value in values:
            kind = type(value)
            if kind is dict or kind is list:
                containers.append(value)
            elif _is_bad_scalar(value, kind, surrogates):
                return True
    return False


def _has_bad_key(container: dict[Any, Any], surrogates: bool) -> bool:
    if any("\x00" in key for key in container):
        return True
    return surrogates and any(_reason(key, surrogates) is not None for key in container)


def _is_bad_scalar(value: Any, kind: type, surrogates: bool) -> bool:
    """`kind` is `type(value)` exactly: a bool is neither an int nor a float here."""
    if kind is str:
        return "\x00" in value or (surrogates and _reason(value, surrogates) is not None)
    if kind is int:
        return not INT64_MIN <= value <= INT64_MAX
    return kind is float and not math.isfinite(value)


def _bad_query(query_string: bytes) -> str | None:
    if b"%00" not in query_string.lower() and b"\x00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "\\u0000")[:64] or "query"
    return "query"


class JsonGuard:
    """Reads a JSON body whole (BodyLimit, outside this, has bounded it), checks it, and hands the
    same bytes on; other bodies (wheel uploads) stream through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", ""):
            await self._refuse(scope, receive, send, "path", "the path must not contain NUL characters")
            return
        parameter = _bad_query(scope.get("query_string", b""))
        if parameter is not None:
            reason = "query parameters must not contain NUL characters"
            await self._refuse(scope, receive, send, parameter, reason)
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        found = _check(body)
        if found is not None:
            await self._refuse(scope, receive, send, *found)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, field: str, reason: str) -> None:
        request = Request(scope)
        field = field[:MAX_FIELD_CHARS]
        errors = [{"field": field, "message": reason}]
        response = problem(
            400, "Invalid input", f"{field}: {reason}", "invalid-input", request, field=field, errors=errors
        )
        await response(scope, receive, send)


def _check(body: bytes) -> tuple[str, str] | None:
    if not body:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route's own parsing answers that (a 422)
    return find_bad_value(document, SURROGATE_ESCAPE.search(body) is not None)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
