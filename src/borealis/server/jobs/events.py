"""The jobs' events on the server's event stream: their bus subject and key.

`JobEvents` is the stream's former name, kept while server/workflows/ imports it.
"""

from __future__ import annotations

from borealis.server.events import EventStream, Listener

SUBJECT = "job.event"
KEY = "job_id"

JobEvents = EventStream

__all__ = ["KEY", "SUBJECT", "EventStream", "JobEvents", "Listener"]
