"""A live-view stream in the user-session helper: capture, skip unchanged screens, encode JPEG, and
send one frame per credit (the server's ack of the previous one), at most `fps` a second.

An unchanged screen is looked at every `IDLE_POLL_S` and sends nothing; while no credit is held
nothing is captured at all. The quality follows what the server asks in each ack (lower when the
viewer falls behind). A frame over `MAX_FRAME_BYTES` is re-encoded at lower quality, then halved.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import shutil
from base64 import b64encode
from collections.abc import Awaitable, Callable
from typing import Any

from PIL import Image

from borealis.agent.screen.capture import CaptureError, Frame, grab
from borealis.agent.screen.inject import InputError, X11Input, open_input
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
    def __init__(
        self, stream_id: str, send: Send, fps: int, quality: int, max_width: int, notice: str = ""
    ) -> None:
        self.stream_id = stream_id
        self._send = send
        self._interval = 1.0 / max(1, min(screen.MAX_FPS, fps))
        self.quality = screen.clamp_quality(quality)
        self._max_width = max(0, max_width)
        self._credit = asyncio.Event()
        self._credit.set()
        self._task: asyncio.Task[None] | None = None
        self.frames = 0
        self.scale = 1.0  # screen pixels per frame pixel (frames wider than max_width are scaled down)
        self._input: X11Input | None = None
        self._notice_text = notice
        self._notice: asyncio.subprocess.Process | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"screen-{self.stream_id}")

    async def show_notice(self) -> None:
        """Tell the user someone is watching (agent.toml `screen_notice`): a small window, top right."""
        if not self._notice_text or shutil.which("xmessage") is None:
            return
        with contextlib.suppress(OSError):
            self._notice = await asyncio.create_subprocess_exec(
                "xmessage",
                "-geometry",
                "-0+0",
                self._notice_text,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )

    async def inject(self, events: list[dict[str, Any]]) -> str | None:
        """Apply mouse and keyboard events; the reason when they cannot be, else None."""
        try:
            await asyncio.to_thread(self._inject, events)
        except InputError as exc:
            return str(exc)
        return None

    def _inject(self, events: list[dict[str, Any]]) -> None:
        if self._input is None:
            self._input = open_input()
        self._input.apply(events, self.scale)

    def acked(self, quality: object) -> None:
        self.quality = screen.clamp_quality(quality, self.quality)
        self._credit.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._notice is not None and self._notice.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._notice.kill()
            await self._notice.wait()
        if self._input is not None:
            await asyncio.to_thread(self._input.close)
            self._input = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        previous: bytes | None = None
        changed_at = loop.time()
        try:
            while True:
                await self._credit.wait()
                began = loop.time()
                frame = await asyncio.to_thread(grab, 0, None)
                if frame.rgb == previous:
                    # A screen that changed a moment ago is looked at again at the frame rate; one
                    # that has been still for a second only every IDLE_POLL_S.
                    still = loop.time() - changed_at > 1.0
                    await asyncio.sleep(screen.IDLE_POLL_S if still else self._interval)
                    continue
                previous = frame.rgb
                changed_at = loop.time()
                data, width, height = await asyncio.to_thread(
                    encode_jpeg, frame, self.quality, self._max_width
                )
                self._credit.clear()
                self.frames += 1
                self.scale = frame.width / width
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
