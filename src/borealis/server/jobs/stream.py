"""A job's live events as Server-Sent Events: a snapshot, then state changes and output chunks, and
`end` once every row is final. Output that came before the listener (the latest, bounded) follows the
snapshot. A listener that fell behind is told how many events it lost and gets
a fresh snapshot; a quiet stream sends a keep-alive comment and re-reads the rows now and then."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import orjson

from borealis.server.jobs import store
from borealis.server.jobs.service import JobService
from borealis.server.jobs.views import job_view

KEEPALIVE_S = 10.0


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


async def _rows(service: JobService, job_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    async with service.db.session() as session:
        job = await store.get_job(session, job_id)
        states = await store.row_states(session, job_id)
    return job_view(job, Counter(states.values())), states  # counted from the same read


async def job_events(
    service: JobService, job_id: str, keepalive_s: float = KEEPALIVE_S
) -> AsyncIterator[bytes]:
    listener = service.events.listen(job_id)
    earlier = service.events.recent_output(job_id)
    try:
        view, states = await _rows(service, job_id)
        yield sse("snapshot", {**view, "results": [{"agent_id": a, "status": s} for a, s in states.items()]})
        unfinished = {agent_id for agent_id, status in states.items() if not store.is_final(status)}
        if unfinished:  # output that came before this listener did; a finished job has its stored tails
            for event in earlier:
                yield sse("output", event)
        while unfinished:
            try:
                event = await asyncio.wait_for(listener.queue.get(), keepalive_s)
            except TimeoutError:
                yield b": keep-alive\n\n"
                view, states = await _rows(service, job_id)
                unfinished = {a for a, s in states.items() if not store.is_final(s)}
                continue
            if listener.dropped:
                lost, listener.dropped = listener.dropped, 0
                yield sse("dropped", {"job_id": job_id, "count": lost})
                view, states = await _rows(service, job_id)
                yield sse(
                    "snapshot", {**view, "results": [{"agent_id": a, "status": s} for a, s in states.items()]}
                )
                unfinished = {a for a, s in states.items() if not store.is_final(s)}
            if event.get("type") == "state":
                for agent_id in event.get("agent_ids", []):
                    if store.is_final(str(event.get("status"))):
                        unfinished.discard(agent_id)
                    else:
                        unfinished.add(agent_id)
                yield sse("state", event)
            else:
                yield sse("output", event)
        view, _ = await _rows(service, job_id)
        yield sse("end", view)
    finally:
        service.events.unlisten(listener)
