"""Grabbing the screen in the user's session: X11 and Windows through `mss`, Wayland refused clearly.

`grab` returns raw RGB pixels; encoding is the role's business. On Windows, `mss` uses GDI
(BitBlt) in the interactive session; that path is built but has not been run on Windows here.
A Wayland session without an X display would need the desktop portal (org.freedesktop.portal.Screenshot),
which asks the user on every capture and is not built: such a capture fails with that reason.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from borealis.core.errors import BorealisError


class CaptureError(BorealisError):
    """The screen cannot be captured here; the message says why, for the job's `error`."""


@dataclass(frozen=True)
class Frame:
    width: int
    height: int
    rgb: bytes
    left: int = 0
    top: int = 0


def unavailable_reason(env: dict[str, str] | None = None) -> str | None:
    """Why this process has no screen to capture, or None when it has one (as far as env tells)."""
    env = dict(os.environ) if env is None else env
    if sys.platform == "win32":
        return None
    if env.get("DISPLAY"):
        return None
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
        return (
            "this is a Wayland session without an X display: capture through the desktop portal "
            "is not built yet (run the session on X11, or with Xwayland's DISPLAY exported)"
        )
    return "no display in this session: DISPLAY is not set (a console or headless login)"


def _open() -> Any:
    import mss  # imported here: the agent's worker never needs it, only the helper does

    factory = getattr(mss, "MSS", None) or mss.mss
    return factory()


def monitors() -> list[dict[str, int]]:
    """`[all, 1, 2, …]`: index 0 is the whole desktop, as `mss` numbers them."""
    reason = unavailable_reason()
    if reason:
        raise CaptureError(reason)
    try:
        with _open() as screen:
            return [dict(m) for m in screen.monitors]
    except Exception as exc:  # mss raises ScreenShotError, and Xlib errors surface as others
        raise CaptureError(f"cannot open the display: {exc}") from exc


def grab(monitor: int, region: dict[str, int] | None) -> Frame:
    """Monitor `monitor` (0: the whole desktop), or `region` of it (relative to its top-left corner)."""
    reason = unavailable_reason()
    if reason:
        raise CaptureError(reason)
    try:
        with _open() as screen:
            screens = screen.monitors
            if monitor >= len(screens):
                raise CaptureError(f"monitor {monitor} does not exist: this desktop has {len(screens) - 1}")
            area = dict(screens[monitor])
            if region is not None:
                if (
                    region["x"] + region["width"] > area["width"]
                    or region["y"] + region["height"] > area["height"]
                ):
                    raise CaptureError(
                        f"region {region['width']}x{region['height']}+{region['x']}+{region['y']} is outside "
                        f"the screen ({area['width']}x{area['height']})"
                    )
                area = {
                    "left": area["left"] + region["x"],
                    "top": area["top"] + region["y"],
                    "width": region["width"],
                    "height": region["height"],
                }
            shot = screen.grab(area)
            return Frame(shot.width, shot.height, bytes(shot.rgb), area["left"], area["top"])
    except CaptureError:
        raise
    except Exception as exc:
        raise CaptureError(f"the capture failed: {type(exc).__name__}: {exc}") from exc
