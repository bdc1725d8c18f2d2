"""Durations as operators type them: `30s`, `15m`, `24h`, `30d`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta

from borealis.core.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d{1,9})\s*([smhdw]?)\s*$")


def parse_duration(text: str) -> timedelta:
    match = _PATTERN.match(text)
    if not match:
        raise InvalidInput(f"not a duration: {text!r} (use a number with s, m, h, d or w, like 24h)")
    value, unit = int(match.group(1)), match.group(2) or "s"
    if value <= 0:
        raise InvalidInput(f"duration must be positive: {text!r}")
    return timedelta(seconds=value * _UNITS[unit])
