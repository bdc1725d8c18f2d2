"""The operators' event stream (SSE): agent up/down/changed, job states and workflow run events, each
sent only to readers whose scopes cover it. A slow reader is dropped with a final `dropped` event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from borealis.core.errors import NotAuthenticated, TransientError
from borealis.server.api.common import EVENT_STREAM, AgentsRead
from borealis.server.api.guard import authenticate
from borealis.server.auth.scopes import Scope
from borealis.server.console_events import MAX_CLIENTS, ConsoleClient, ConsoleEvents
from borealis.server.jobs.stream import sse
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1", tags=["events"])
KEEPALIVE_S = 15.0


Recheck = Callable[[], Awaitable[frozenset[Scope]]]


async def _stream(
    hub: ConsoleEvents, client: ConsoleClient, request: Request, keepalive_s: float, recheck: Recheck
) -> AsyncIterator[bytes]:
    """Events until the reader leaves, falls behind, or its session or token ends (checked again at
    every keep-alive, which also picks up a changed role)."""
    try:
        yield b"retry: 2000\n\n"
        yield sse("hello", {"kinds": sorted(k for k in ("agent", "job", "run") if client.may_see(k))})
        while True:
            if client.overflowed and client.queue.empty():  # what was queued is sent first
                yield sse("dropped", {"reason": "reader too slow; reconnect and reload"})
                return
            try:
                event = await asyncio.wait_for(client.queue.get(), keepalive_s)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                try:
                    client.scopes = await recheck()
                except NotAuthenticated as exc:
                    yield sse("ended", {"reason": exc.detail})
                    return
                yield b": keep-alive\n\n"
                continue
            yield sse(str(event["kind"]), event)
    finally:
        hub.close(client)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses=EVENT_STREAM,
)
async def console_events(request: Request, who: AgentsRead) -> StreamingResponse:
    """Live events for consoles: `agent` (needs agents:read), `job` (jobs:read), `run` (workflows:read)."""
    state = state_of(request)
    hub = state.console_events
    if len(hub.clients) >= MAX_CLIENTS:
        raise TransientError("too many open event streams; try again later")
    client = hub.open(who.scopes)

    async def recheck() -> frozenset[Scope]:
        return (await authenticate(request)).scopes

    return StreamingResponse(
        _stream(hub, client, request, KEEPALIVE_S, recheck),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
