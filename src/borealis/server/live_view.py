"""Live view relay (docs/screen.md): frames from one agent to the one operator who asked for them.

An operator with `desktop:view` opens a session for an agent (one viewer per agent at a time), then
reads it as an MJPEG stream. Frames go from the agent's socket into that session's one-frame slot and
from there to that viewer only — a frame for a session that does not exist, or that belongs to another
agent, is dropped, counted, and answered with `screen.stop`. The viewer's pace is the stream's pace:
the agent gets the credit for its next frame (`screen.ack`) only once the previous one was written to
the viewer, and the JPEG quality it is asked for drops when writing takes longer than the frame
interval (and climbs back when it does not). A session ends when the viewer leaves, closes it, stops
sending keep-alives for `idle_s`, or the agent ends it; start and end are in the audit log.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import logging
import time
from base64 import b64decode
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from borealis.core.errors import Conflict, Forbidden, NotFound
from borealis.core.ids import new_id
from borealis.core.logs import kv
from borealis.protocol import screen
from borealis.server import audit
from borealis.server.auth.principal import Principal
from borealis.server.db.database import Database
from borealis.server.presence import Presence, Sender

BOUNDARY = "borealisframe"
INPUT_TIMEOUT_S = 5.0
CONNECT_WITHIN_S = 30.0  # a session whose viewer never connects is dropped after this

log = logging.getLogger("borealis.server.live_view")


@dataclass
class Viewer:
    stream_id: str
    agent_id: str
    actor: str
    actor_name: str
    ip: str | None
    fps: int
    quality: int
    created: float = field(default_factory=time.monotonic)
    active: float = field(default_factory=time.monotonic)
    connected: bool = False
    frames: int = 0
    sent_bytes: int = 0
    ended: str | None = None
    controlled: bool = False
    input_seq: int = 0
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    slot: asyncio.Queue[tuple[int, bytes, float]] = field(default_factory=lambda: asyncio.Queue(maxsize=1))
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class LiveViews:
    def __init__(self, db: Database, presence: Presence, *, idle_s: float, max_fps: int) -> None:
        self.db = db
        self.presence = presence
        self.idle_s = idle_s
        self.max_fps = max(1, min(screen.MAX_FPS, max_fps))
        self.streams: dict[str, Viewer] = {}
        self.by_agent: dict[str, str] = {}
        self.refused_frames = 0
        self._closing: set[asyncio.Task[None]] = set()
        self.relayed_frames = 0

    async def open(self, agent_id: str, who: Principal, ip: str | None, fps: int, quality: int) -> Viewer:
        self._drop_unconnected()
        if agent_id in self.by_agent:
            raise Conflict("someone is already watching this agent's screen (one viewer at a time)")
        if self.presence.sender(agent_id) is None:
            raise Conflict("the agent is not connected to this server process")
        viewer = Viewer(
            new_id(), agent_id, str(who.actor), who.name, ip, max(1, min(self.max_fps, fps)), quality
        )
        self.streams[viewer.stream_id] = viewer
        self.by_agent[agent_id] = viewer.stream_id
        await self._audit(viewer, "screen.view.start", fps=viewer.fps)
        return viewer

    def viewer(self, stream_id: str, who: Principal) -> Viewer:
        viewer = self.streams.get(stream_id)
        if viewer is None:
            raise NotFound("no such live view (it ended, or never was)")
        if viewer.actor != str(who.actor):
            raise Forbidden("this live view belongs to another operator")
        return viewer

    def touch(self, viewer: Viewer) -> None:
        viewer.active = time.monotonic()

    async def close(self, viewer: Viewer, reason: str) -> None:
        if self.streams.pop(viewer.stream_id, None) is None:
            return
        self.by_agent.pop(viewer.agent_id, None)
        viewer.ended = viewer.ended or reason
        viewer.wake.set()
        log.info(
            "live view ended",
            extra=kv(
                agent_id=viewer.agent_id,
                stream_id=viewer.stream_id,
                reason=viewer.ended,
                frames=viewer.frames,
            ),
        )
        await self._to_agent(viewer.agent_id, {"t": screen.STOP, "stream_id": viewer.stream_id})
        await self._audit(
            viewer,
            "screen.view.end",
            reason=viewer.ended,
            frames=viewer.frames,
            bytes=viewer.sent_bytes,
            duration_s=round(time.monotonic() - viewer.created, 1),
        )

    async def stop_all(self) -> None:
        for viewer in list(self.streams.values()):
            await self.close(viewer, "the server stopped")
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # --- the agent's side ---

    async def on_frame(self, agent_id: str, frame: dict[str, Any], reply: Sender) -> None:
        stream_id = frame.get("stream_id")
        viewer = self.streams.get(stream_id) if isinstance(stream_id, str) else None
        if viewer is None or viewer.agent_id != agent_id or not viewer.connected:
            self.refused_frames += 1
            log.warning("live-view frame nobody asked for dropped", extra=kv(agent_id=agent_id))
            if isinstance(stream_id, str) and screen.STREAM_ID.fullmatch(stream_id):
                with contextlib.suppress(Exception):
                    await reply(orjson.dumps({"t": screen.STOP, "stream_id": stream_id}).decode())
            return
        if frame.get("t") == screen.INPUT_RESULT:
            seq = frame.get("seq")
            future = viewer.pending.get(seq) if isinstance(seq, int) else None
            if future is not None and not future.done():
                future.set_result(frame)
            return
        if frame.get("t") == screen.ENDED:
            viewer.ended = f"the agent ended it: {str(frame.get('reason'))[:300]}"
            viewer.wake.set()
            return
        data, seq = frame.get("data"), frame.get("seq")
        try:
            if (
                not isinstance(data, str)
                or len(data) > 2 * screen.MAX_FRAME_BYTES
                or not isinstance(seq, int)
            ):
                raise ValueError("malformed")
            jpeg = b64decode(data, validate=True)
            if len(jpeg) > screen.MAX_FRAME_BYTES or not jpeg.startswith(b"\xff\xd8\xff"):
                raise ValueError("not a bounded JPEG")
        except (ValueError, binascii.Error):
            self.refused_frames += 1
            log.warning("malformed live-view frame dropped", extra=kv(agent_id=agent_id))
            return
        if viewer.slot.full():  # never more than one waiting frame: the newest wins
            viewer.slot.get_nowait()
        viewer.slot.put_nowait((seq, jpeg, time.monotonic()))

    async def control(self, viewer: Viewer, events: list[dict[str, object]]) -> None:
        """Send mouse and keyboard events to the agent and wait for its answer; refusals raise."""
        if not viewer.connected or viewer.ended is not None:
            raise Conflict("the live view is not being watched: open its stream first")
        self.touch(viewer)
        if not viewer.controlled:
            viewer.controlled = True
            await self._audit(viewer, "screen.control.start")
        viewer.input_seq += 1
        seq = viewer.input_seq
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        viewer.pending[seq] = future
        try:
            await self._to_agent(
                viewer.agent_id,
                {"t": screen.INPUT, "stream_id": viewer.stream_id, "seq": seq, "events": events},
            )
            answer = await asyncio.wait_for(future, INPUT_TIMEOUT_S)
        except TimeoutError:
            raise Conflict(f"the agent did not confirm the input within {INPUT_TIMEOUT_S:g} s") from None
        finally:
            viewer.pending.pop(seq, None)
        if answer.get("ok") is not True:
            reason = f"the agent refused the input: {str(answer.get('reason'))[:300]}"
            raise Forbidden(reason) if answer.get("policy") else Conflict(reason)

    # --- the viewer's side ---

    async def mjpeg(self, viewer: Viewer, gone: Callable[[], Awaitable[bool]]) -> AsyncIterator[bytes]:
        """The body of the viewer's response: one JPEG part per frame, until the session ends.
        `gone` says whether the viewer disconnected: on a still screen nothing is written, so a
        closed connection would otherwise go unnoticed until the idle limit."""
        if viewer.connected:
            raise Conflict("this live view is already being watched")
        viewer.connected = True
        self.touch(viewer)
        interval = 1.0 / viewer.fps
        try:
            await self._to_agent(
                viewer.agent_id,
                {
                    "t": screen.START,
                    "stream_id": viewer.stream_id,
                    "fps": viewer.fps,
                    "quality": viewer.quality,
                    "max_width": 1920,
                },
            )
            while viewer.ended is None and viewer.stream_id in self.streams:
                if time.monotonic() - viewer.active > self.idle_s:
                    viewer.ended = f"idle: no keep-alive from the viewer for {self.idle_s:g} s"
                    break
                try:
                    seq, jpeg, arrived = await asyncio.wait_for(viewer.slot.get(), 1.0)
                except TimeoutError:
                    if await gone():
                        break
                    continue
                yield (
                    (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
                        f"X-Frame: {seq}\r\n\r\n"
                    ).encode()
                    + jpeg
                    + b"\r\n"
                )
                viewer.frames += 1
                viewer.sent_bytes += len(jpeg)
                self.relayed_frames += 1
                taken = time.monotonic() - arrived
                if taken > interval:
                    viewer.quality = max(screen.MIN_QUALITY, viewer.quality - 10)
                elif taken < interval / 4:
                    viewer.quality = min(screen.MAX_QUALITY, viewer.quality + 2)
                await self._to_agent(
                    viewer.agent_id,
                    {"t": screen.ACK, "stream_id": viewer.stream_id, "seq": seq, "quality": viewer.quality},
                )
        finally:
            # Cancelled when the viewer disconnects: an await here would be cancelled too, so the
            # close (stop the agent, audit the end) runs as a task of its own.
            closing = asyncio.get_running_loop().create_task(self.close(viewer, "the viewer left"))
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    # --- helpers ---

    def _drop_unconnected(self) -> None:
        now = time.monotonic()
        for viewer in list(self.streams.values()):
            if not viewer.connected and now - viewer.created > CONNECT_WITHIN_S:
                self.streams.pop(viewer.stream_id, None)
                self.by_agent.pop(viewer.agent_id, None)

    async def _to_agent(self, agent_id: str, frame: dict[str, Any]) -> None:
        sender = self.presence.sender(agent_id)
        if sender is not None:
            with contextlib.suppress(Exception):
                await sender(orjson.dumps(frame).decode())

    async def _audit(self, viewer: Viewer, action: str, **detail: Any) -> None:
        try:
            async with self.db.transaction() as session:
                audit.record(
                    session,
                    viewer.actor,
                    action,
                    viewer.agent_id,
                    viewer.ip,
                    actor_name=viewer.actor_name,
                    stream_id=viewer.stream_id,
                    **detail,
                )
        except Exception:
            log.exception("could not audit a live view", extra=kv(stream_id=viewer.stream_id))
