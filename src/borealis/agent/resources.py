"""The agent's own resource use (psutil), and whether a recorded process is still ours and alive."""

from __future__ import annotations

import os
import time

import psutil


class ProcessMeter:
    """RSS, CPU since the previous reading, and uptime of one process (by default this one)."""

    def __init__(self, pid: int | None = None) -> None:
        self._process = psutil.Process(pid)
        self._started = time.monotonic()
        self._process.cpu_percent(interval=None)

    def rss_bytes(self) -> int:
        return int(self._process.memory_info().rss)

    def cpu_pct(self) -> float:
        """Percent of one core used since the last call (non-blocking: reads /proc, no sampling)."""
        return round(float(self._process.cpu_percent(interval=None)), 2)

    def uptime_s(self) -> float:
        return round(time.monotonic() - self._started, 3)


def rss_of(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.Error, OSError):
        return None


def agent_process_alive(pid: object) -> bool:
    """True when `pid` runs and looks like a Borealis process (guards against a recycled pid)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command = " ".join(process.cmdline())
    except psutil.AccessDenied:
        return True
    except (psutil.Error, OSError):
        return False
    return "borealis" in command
