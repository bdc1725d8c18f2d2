"""A real X display for screen tests: Xvfb on a free display number, and windows with known content."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import wait_for

SCREEN = (1024, 768)


@contextlib.contextmanager
def xvfb(width: int = SCREEN[0], height: int = SCREEN[1]) -> Iterator[str]:
    """A fresh Xvfb (no access control: the test user's helper connects to it), stopped at the end."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (.ci/run installs it)")
    # Xvfb picks a free display number itself and writes it to the pipe (-displayfd); it also clears
    # lock files that dead servers left behind, so display numbers never run out across runs.
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-ac",
            "-nolisten",
            "tcp",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as announced:
            number = announced.readline().strip().decode()
        if not number.isdigit():
            raise AssertionError(f"Xvfb did not announce a display (exit code {process.poll()})")
        wait_for(lambda: _accepts(f":{number}"), 15, what="Xvfb to accept connections")
        yield f":{number}"
    finally:
        process.terminate()  # SIGTERM: Xvfb removes its lock file and socket
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _accepts(display: str) -> bool:
    """Whether the X server takes connections yet (its socket appears a moment before it does)."""
    if not Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
        return False
    try:
        grab_directly(display)
    except Exception:
        return False
    return True


@contextlib.contextmanager
def message_window(display: str, text: str, x: int = 40, y: int = 40) -> Iterator[subprocess.Popen[bytes]]:
    """An `xmessage` window showing `text` at (x, y), on the display before this returns; closed at the end."""
    if shutil.which("xmessage") is None:
        pytest.skip("xmessage is not installed (x11-utils)")
    process = subprocess.Popen(
        ["xmessage", "-geometry", f"+{x}+{y}", text],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not any(grab_directly(display)[2]):
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode(errors="replace") if process.poll() is not None else ""
                raise AssertionError(
                    f"xmessage never showed on {display} (exit {process.poll()}): {error[-300:]}"
                )
            time.sleep(0.1)
        yield process
    finally:
        process.kill()
        process.wait(5)
        if process.stderr is not None:
            process.stderr.close()


# Grabbing in a child process: mss keeps per-process X state (connections, atom caches, shared memory)
# that, after many Xvfb servers came and went in one pytest process, gave black frames from a live
# server on a reused display number (seen in CI on the PostgreSQL variants, which run second).
_GRAB = """
import sys
import mss
with (getattr(mss, "MSS", None) or mss.mss)() as screen:
    shot = screen.grab(screen.monitors[0])
    sys.stdout.buffer.write(b"%d %d\\n" % (shot.width, shot.height) + bytes(shot.rgb))
"""


def grab_directly(display: str) -> tuple[int, int, bytes]:
    """The whole display's pixels (RGB), read by the test itself (in a fresh process), not through Borealis."""
    done = subprocess.run(
        [sys.executable, "-c", _GRAB],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"grabbing {display} failed: {done.stderr.decode(errors='replace')[-300:]}")
    head, _, rgb = done.stdout.partition(b"\n")
    width, height = (int(part) for part in head.split())
    return width, height, rgb
