"""The JSON codec used on the wire and in files (orjson: fast, strict UTF-8)."""

from __future__ import annotations

from typing import Any

import orjson

from borealis.core.errors import InvalidInput


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def dumps_bytes(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(data: str | bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc}") from exc
