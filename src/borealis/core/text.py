"""Text from outside, made safe to log, store and show: no control characters, bounded length."""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def has_control(text: str) -> bool:
    return CONTROL.search(text) is not None


def without_control(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, each control character replaced by `?` (length kept, so it
    still fits the column it was cut for)."""
    return CONTROL.sub("?", text[:limit])


def printable(text: str, limit: int) -> str:
    """`text` with every control character (newlines, ESC of ANSI codes, NUL) shown as `\\n` or `\\xNN`,
    cut to `limit` characters with a note of how much was left out."""
    cut = text[:limit]
    shown = CONTROL.sub(lambda m: _NAMED.get(m.group()) or f"\\x{ord(m.group()):02x}", cut)
    if len(text) > limit:
        shown += f"…(+{len(text) - limit} chars)"
    return shown
