"""What the agent last sent per section (`<home>/Agent/inventory.json`), so a restart resends nothing
that the server already has.

A frame counts as delivered once it is in the outbox: the outbox keeps it, across restarts, until
the server acks it. The one way it can be lost is the outbox dropping it when full, so the file also
keeps the outbox's drop counter; when that counter has moved, every section is sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from borealis.core import codec
from borealis.core.errors import InvalidInput
from borealis.core.home import write_atomic
from borealis.core.logs import kv

STATE_FILE = "inventory.json"

log = logging.getLogger("borealis.agent.inventory")


@dataclass
class SentRecord:
    hash: str
    sent_at: float


@dataclass
class SentState:
    sections: dict[str, SentRecord] = field(default_factory=dict)
    outbox_dropped: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "sections": {name: {"hash": r.hash, "sent_at": r.sent_at} for name, r in self.sections.items()},
            "outbox_dropped": self.outbox_dropped,
        }


def load_sent_state(path: Path) -> SentState:
    """Blocking. A missing or damaged file means: nothing is known to be sent."""
    try:
        raw = codec.loads(path.read_bytes())
        sections = {
            str(name): SentRecord(str(record["hash"]), float(record["sent_at"]))
            for name, record in raw["sections"].items()
        }
        return SentState(sections, int(raw["outbox_dropped"]))
    except FileNotFoundError:
        return SentState()
    except (OSError, InvalidInput, KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("inventory state unreadable; sending everything again", extra=kv(path=path, error=exc))
        return SentState()


def save_sent_state(path: Path, state: SentState) -> None:
    """Blocking."""
    write_atomic(path, codec.dumps_bytes(state.to_json()), mode=0o600)
