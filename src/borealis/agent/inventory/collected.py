"""What a collector may return besides plain data: the data with a note for the operator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Collected:
    data: Any
    note: str | None = None
