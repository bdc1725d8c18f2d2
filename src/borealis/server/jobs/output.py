"""Stored output is bounded: the tail of a stream is kept, and the cut is noted."""

from __future__ import annotations


def keep_tail(text: str, max_bytes: int) -> tuple[str, bool]:
    """The last `max_bytes` bytes of `text` (UTF-8, never a broken character); True if it was cut."""
    text = text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[-max_bytes:].decode("utf-8", errors="ignore"), True
