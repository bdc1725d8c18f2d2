"""Identifiers: time-ordered random ids (sortable, so they double as pagination cursors)."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """48-bit millisecond time + 80 random bits, as 32 lowercase hex characters."""
    return f"{int(time.time() * 1000):012x}{os.urandom(10).hex()}"
