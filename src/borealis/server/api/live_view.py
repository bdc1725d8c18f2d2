"""Live view of an agent's screen (docs/screen.md): open a session, watch it as MJPEG, keep it alive,
close it. Everything needs `desktop:view`, and a session is only ever its opener's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from borealis.core.errors import InvalidInput
from borealis.protocol import screen
from borealis.server.api.common import DesktopControl, DesktopView, client_ip
from borealis.server.live_view import BOUNDARY
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1", tags=["screen"])
StreamId = Path(pattern=r"^[0-9a-f]{32}$")

MJPEG: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JPEG frames as multipart/x-mixed-replace (an `<img>` shows it), until the session ends",
        "content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {"schema": {"type": "string"}}},
    }
}


class NewLiveView(BaseModel):
    fps: int = Field(default=8, ge=1, le=screen.MAX_FPS)
    quality: int = Field(default=70, ge=screen.MIN_QUALITY, le=screen.MAX_QUALITY)


class LiveViewSession(BaseModel):
    stream_id: str
    agent_id: str
    fps: int
    quality: int
    idle_s: float
    stream_url: str
    keepalive_url: str


@router.post("/agents/{agent_id}/screen", status_code=201, response_model=LiveViewSession)
async def open_live_view(
    body: NewLiveView, request: Request, who: DesktopView, agent_id: str = Path(max_length=64)
) -> dict[str, Any]:
    """Open a live view of the agent's screen (one viewer per agent); watch it at `stream_url`."""
    views = state_of(request).live_views
    viewer = await views.open(agent_id, who, client_ip(request), body.fps, body.quality)
    base = f"/api/v1/screen/{viewer.stream_id}"
    return {
        "stream_id": viewer.stream_id,
        "agent_id": agent_id,
        "fps": viewer.fps,
        "quality": viewer.quality,
        "idle_s": views.idle_s,
        "stream_url": base,
        "keepalive_url": f"{base}/keepalive",
    }


@router.get("/screen/{stream_id}", response_class=StreamingResponse, responses=MJPEG)
async def watch_live_view(request: Request, who: DesktopView, stream_id: str = StreamId) -> StreamingResponse:
    views = state_of(request).live_views
    viewer = views.viewer(stream_id, who)
    return StreamingResponse(
        views.mjpeg(viewer, request.is_disconnected),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/screen/{stream_id}/keepalive", status_code=204, response_class=Response)
async def keep_live_view(request: Request, who: DesktopView, stream_id: str = StreamId) -> Response:
    views = state_of(request).live_views
    views.touch(views.viewer(stream_id, who))
    return Response(status_code=204)


class InputEvents(BaseModel):
    """Mouse and keyboard events in the frame's pixels: move {x, y}, click {x, y, button}, down/up
    {button}, key {key: an X key name}, text {text}."""

    events: list[dict[str, Any]] = Field(min_length=1, max_length=screen.MAX_EVENTS)


@router.post("/screen/{stream_id}/input", status_code=204, response_class=Response)
async def control_live_view(
    body: InputEvents, request: Request, who: DesktopControl, stream_id: str = StreamId
) -> Response:
    """Drive the viewed screen (needs `desktop:control`, and the agent's `remote_control = true`)."""
    try:
        events = screen.check_events(body.events)
    except screen.BadInput as bad:
        raise InvalidInput(str(bad), field="events") from None
    views = state_of(request).live_views
    await views.control(views.viewer(stream_id, who), events)
    return Response(status_code=204)


@router.delete("/screen/{stream_id}", status_code=204, response_class=Response)
async def close_live_view(request: Request, who: DesktopView, stream_id: str = StreamId) -> Response:
    views = state_of(request).live_views
    await views.close(views.viewer(stream_id, who), "closed by the viewer")
    return Response(status_code=204)
