"""Children that run in their own process group, and ending the whole group (DESIGN §8).

A job's command starts in a new session, so it and everything it spawns share one process group;
`end_group` sends SIGTERM to that group, waits a short grace, then SIGKILLs what is left, so a job
that ends for any reason leaves no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import psutil

TERM_GRACE_S = 2.0
POLL_S = 0.05


def group_alive(pgid: int) -> bool:
    if os.name != "posix":
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_started_at(pid: int) -> float | None:
    """The creation time of `pid` (to recognise it later), or None when it is already gone."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def end_orphaned_group(pgid: int, leader_started: float, grace_s: float = TERM_GRACE_S) -> bool:
    """Blocking: end the group a dead worker's job left behind, if its leader is still that process.

    Run in a thread. A leader with another creation time is a recycled pid: left alone.
    """
    if os.name != "posix" or process_started_at(pgid) != leader_started:
        return False
    _signal_group(pgid, signal.SIGTERM)
    _signal_group(pgid, signal.SIGCONT)
    deadline = time.monotonic() + grace_s
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    _signal_group(pgid, signal.SIGKILL)
    return True


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


async def end_group(process: asyncio.subprocess.Process, grace_s: float = TERM_GRACE_S) -> None:
    """SIGTERM the process's group, SIGKILL it after `grace_s`, and reap the leader."""
    if os.name != "posix":
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return
    pgid = process.pid
    if process.returncode is None or group_alive(pgid):
        _signal_group(pgid, signal.SIGTERM)
        _signal_group(pgid, signal.SIGCONT)  # a stopped process can only act on SIGTERM once resumed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace_s)
        await _wait_group_gone(pgid, grace_s)
    if group_alive(pgid) or process.returncode is None:
        _signal_group(pgid, signal.SIGKILL)
    await process.wait()
    await _wait_group_gone(pgid, TERM_GRACE_S)  # members that are not our children are reaped by init


async def _wait_group_gone(pgid: int, limit_s: float) -> None:
    for _ in range(max(1, int(limit_s / POLL_S))):
        if not group_alive(pgid):
            return
        await asyncio.sleep(POLL_S)
