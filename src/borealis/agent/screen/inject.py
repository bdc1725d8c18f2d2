"""Mouse and keyboard input into the user's session: XTest on X11 (through ctypes, libXtst), and on
Windows SendInput — which is not built yet: there it fails with that reason."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

from borealis.agent.screen.capture import CaptureError, unavailable_reason

SHIFTED = set('ABCDEFGHIJKLMNOPQRSTUVWXYZ~!@#$%^&*()_+{}|:"<>?')
KEYSYM_NAMES = {" ": "space", "\t": "Tab"}


class InputError(CaptureError):
    """Input cannot be injected here; the message says why."""


class X11Input:
    """One connection to the session's X server, used from one thread."""

    def __init__(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise InputError(reason)
        x11_name, xtst_name = ctypes.util.find_library("X11"), ctypes.util.find_library("Xtst")
        if not x11_name or not xtst_name:
            raise InputError("remote control needs libX11 and libXtst (the XTest extension) in the session")
        self._x11 = ctypes.CDLL(x11_name)
        self._xtst = ctypes.CDLL(xtst_name)
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x11.XStringToKeysym.restype = ctypes.c_ulong
        self._x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self._x11.XKeysymToKeycode.restype = ctypes.c_ubyte
        self._x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self._x11.XFlush.argtypes = [ctypes.c_void_p]
        self._x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._xtst.XTestFakeMotionEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._xtst.XTestFakeButtonEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self._display = self._x11.XOpenDisplay(None)
        if not self._display:
            raise InputError("cannot open the X display for input")

    def close(self) -> None:
        if self._display:
            self._x11.XCloseDisplay(self._display)
            self._display = None

    def apply(self, events: list[dict[str, Any]], scale: float) -> None:
        d = self._display
        for event in events:
            kind = event["type"]
            if kind in ("move", "click"):
                self._xtst.XTestFakeMotionEvent(
                    d, -1, round(event["x"] * scale), round(event["y"] * scale), 0
                )
            if kind in ("click", "down"):
                self._xtst.XTestFakeButtonEvent(d, event["button"], 1, 0)
            if kind in ("click", "up"):
                self._xtst.XTestFakeButtonEvent(d, event["button"], 0, 0)
            if kind == "key":
                self._key(event["key"], shift=False)
            if kind == "text":
                for char in event["text"]:
                    self._key(KEYSYM_NAMES.get(char, char), shift=char in SHIFTED)
        self._x11.XFlush(d)

    def _key(self, name: str, *, shift: bool) -> None:
        keysym = self._x11.XStringToKeysym(name.encode())
        if not keysym and len(name) == 1:
            keysym = ord(name)  # Latin-1 characters are their own keysyms
        keycode = self._x11.XKeysymToKeycode(self._display, keysym)
        if not keycode:
            raise InputError(f"the key {name!r} is not on this session's keyboard map")
        shift_code = self._x11.XKeysymToKeycode(self._display, self._x11.XStringToKeysym(b"Shift_L"))
        if shift:
            self._xtst.XTestFakeKeyEvent(self._display, shift_code, 1, 0)
        self._xtst.XTestFakeKeyEvent(self._display, keycode, 1, 0)
        self._xtst.XTestFakeKeyEvent(self._display, keycode, 0, 0)
        if shift:
            self._xtst.XTestFakeKeyEvent(self._display, shift_code, 0, 0)


def open_input() -> X11Input:
    if sys.platform == "win32":
        raise InputError("remote control on Windows (SendInput) is not built yet")
    return X11Input()
