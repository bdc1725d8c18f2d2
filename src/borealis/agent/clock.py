"""Timestamps in the agent's state files: `core.clock`'s ISO 8601 UTC form, as plain strings."""

from __future__ import annotations

from datetime import UTC, datetime

from borealis.core.clock import iso, utcnow


def utc_now_iso() -> str:
    """Now, as the ISO 8601 UTC string a state file or frame records (`core.clock.utcnow` is the datetime)."""
    return iso(utcnow()) or ""


def parse_utc(text: object) -> datetime | None:
    """The moment a state file recorded, or None when the field is missing or damaged."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
