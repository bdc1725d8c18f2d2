"""The jobs' events on the server's event stream (`server/events.py`): their bus subject and key."""

from __future__ import annotations

SUBJECT = "job.event"
KEY = "job_id"
