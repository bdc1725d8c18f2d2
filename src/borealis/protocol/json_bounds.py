"""Limits on a JSON document's shape, checked on its bytes before anything parses it.

Parsing is what costs: 15 MB of `[[],[],…]` becomes five million Python lists (about 500 MB and
seconds of CPU), while counting brackets and commas on the bytes takes milliseconds and no memory.
So a document over `JsonLimits` is refused before a single object exists. Brackets and commas inside
strings are counted too; that errs only on the side of refusing, and the limits leave room for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from borealis.core.errors import ProtocolError
from borealis.protocol.messages import CloseCode

_SKELETON = b'[]{}"'
_NOT_SKELETON = bytes(b for b in range(256) if b not in _SKELETON)
_ESCAPE = re.compile(
    rb"\\.", re.DOTALL
)  # `\n`, `\"`, `\\`, `\u`: what follows a backslash is never structure
_STRING = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")


@dataclass(frozen=True)
class JsonLimits:
    """How large, wide and deep a JSON document a peer may send."""

    max_bytes: int
    max_containers: int  # objects and arrays
    max_values: int  # every value, scalars included
    max_depth: int


class JsonOverLimits(ProtocolError):
    """A peer sent a document past the agreed limits: a broken or hostile peer, so it is disconnected."""

    def __init__(self, detail: str) -> None:
        """`detail` says which limit; the close code is always `TOO_BIG`."""
        super().__init__(detail, close_code=CloseCode.TOO_BIG)


def check_json(raw: bytes, limits: JsonLimits) -> None:
    """Raise `JsonOverLimits` when `raw` is larger, wider or deeper than `limits` allow."""
    if len(raw) > limits.max_bytes:
        raise JsonOverLimits(f"{len(raw)} bytes of JSON; the limit is {limits.max_bytes}")
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > limits.max_containers:
        raise JsonOverLimits(f"{containers} objects and arrays; the limit is {limits.max_containers}")
    values = containers + raw.count(b",") + 1
    if values > limits.max_values:
        raise JsonOverLimits(f"about {values} values; the limit is {limits.max_values}")
    if deeper_than(raw, limits.max_depth):
        raise JsonOverLimits(f"nested deeper than {limits.max_depth} levels")


def deeper_than(raw: bytes, depth: int) -> bool:
    """Whether the brackets of `raw` nest deeper than `depth` (or do not balance)."""
    # Escapes go first, on the raw bytes: stripping everything but brackets and quotes before would
    # part `\n` from its backslash, which would then escape the next quote and misalign every string.
    unescaped = _ESCAPE.sub(b"", raw) if b"\\" in raw else raw
    skeleton = _STRING.sub(b"", unescaped.translate(None, _NOT_SKELETON))
    for _ in range(depth):
        if not skeleton:
            return False
        skeleton = _INNERMOST.sub(b"", skeleton)  # one pass peels exactly the innermost level
    return bool(skeleton)
