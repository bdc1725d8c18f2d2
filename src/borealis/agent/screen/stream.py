"""A live-view stream in the user-session helper: capture, skip unchanged screens, encode JPEG, and
send one frame per credit (the server's ack of the previous one), at most `fps` a second.

An unchanged screen is looked at every `IDLE_POLL_S` and sends nothing; while no credit is held
nothing is captured at all. The quality follows what the server asks in each ack (lower when the
viewer falls behind). A frame over `MAX_FRAME_BYTES` is re-encoded at lower quality, then halved.
"""

from __future__ import annotations

import asyncio
import io
import logging
from base64 import b64encode
from collections.abc import Awaitable, Callable
from typing import Any

from PIL import Image

from borealis.agent.screen.capture import CaptureError, Frame, grab
from borealis.core.logs import kv
from borealis.protocol import screen

Send = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger("borealis.helper.screen")


def encode_jpeg(frame: Frame, quality: int, max_width: int) -> tuple[bytes, int, int]:
    image = Image.frombytes("RGB", (frame.width, frame.height), frame.rgb)
    if max_width and image.width > max_width:
        image = image.resize((max_width, max(1, round(image.height * max_width / image.width))))
    while True:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= screen.MAX_FRAME_BYTES:
            return out.getvalue(), image.width, image.height
        if quality > screen.MIN_QUALITY:
            quality = max(screen.MIN_QUALITY, quality - 20)
        else:
            image = image.resize((max(1, image.width // 2), max(1, image.height // 2)))


class ScreenStream:
    def __init__(self, stream_id: str, send: Send, fps: int, quality: int, max_width: int) -> None:
        self.stream_id = stream_id
        self._send = send
        self._interval = 1.0 / max(1, min(screen.MAX_FPS, fps))
        self.quality = screen.clamp_quality(quality)
        self._max_width = max(0, max_width)
        self._credit = asyncio.Event()
        self._credit.set()
        self._task: asyncio.Task[None] | None = None
        self.frames = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"screen-{self.stream_id}")

    def acked(self, quality: object) -> None:
        self.quality = screen.clamp_quality(quality, self.quality)
        self._credit.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        previous: bytes | None = None
        try:
            while True:
                await self._credit.wait()
                began = loop.time()
                frame = await asyncio.to_thread(grab, 0, None)
                if frame.rgb == previous:
                    await asyncio.sleep(screen.IDLE_POLL_S)
                    continue
                previous = frame.rgb
                data, width, height = await asyncio.to_thread(
                    encode_jpeg, frame, self.quality, self._max_width
                )
                self._credit.clear()
                self.frames += 1
                await self._send(
                    {
                        "t": screen.FRAME,
                        "stream_id": self.stream_id,
                        "seq": self.frames,
                        "width": width,
                        "height": height,
                        "data": b64encode(data).decode(),
                    }
                )
                await asyncio.sleep(max(0.0, self._interval - (loop.time() - began)))
        except CaptureError as exc:
            log.warning("live view ended", extra=kv(stream_id=self.stream_id, reason=str(exc)))
            await self._send({"t": screen.ENDED, "stream_id": self.stream_id, "reason": str(exc)})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("live view failed", extra=kv(stream_id=self.stream_id))
            await self._send(
                {"t": screen.ENDED, "stream_id": self.stream_id, "reason": f"capture failed: {exc}"}
            )
