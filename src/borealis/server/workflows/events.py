"""Run and node changes published on the bus as `workflow.event` (the SSE of `/api/v1/runs/{id}/events`),
and the subject a cancel travels on to the process running the run."""

from __future__ import annotations

from typing import Any

from borealis.core.clock import iso, utcnow
from borealis.server.bus import Bus
from borealis.server.events import EventStream

EVENT_SUBJECT = "workflow.event"
CANCEL_SUBJECT = "workflow.cancel"


def run_events(bus: Bus) -> EventStream:
    """The fan-out of `workflow.event` to listeners, keyed by run id."""
    return EventStream(bus, subject=EVENT_SUBJECT, key="run_id")


async def publish(events: EventStream, run_id: str, kind: str, **fields: Any) -> None:
    """One event of a run: `kind` is `run` (its status) or `node` (an attempt ended)."""
    await events.publish({"run_id": run_id, "type": kind, "at": iso(utcnow()), **fields})
