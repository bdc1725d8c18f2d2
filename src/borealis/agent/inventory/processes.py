"""The `users` and `processes` sections: who is logged in, and what runs (with CPU over a short sample)."""

from __future__ import annotations

import time
from typing import Any

import psutil

from borealis.agent.inventory.machine import iso_utc

CPU_SAMPLE_S = 0.5
MAX_CMDLINE_CHARS = 4096
MAX_PROCESSES = 20000
_ATTRS = ["pid", "ppid", "name", "username", "cmdline", "create_time", "memory_info", "cpu_times"]


def collect_users() -> list[dict[str, Any]]:
    users = [
        {
            "name": user.name,
            "terminal": user.terminal,
            "host": user.host or None,
            "started_at": iso_utc(user.started),
        }
        for user in psutil.users()
    ]
    return sorted(users, key=lambda u: (u["name"], u["terminal"] or "", u["started_at"]))


def _cpu_seconds(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


def collect_processes(sample_s: float = CPU_SAMPLE_S) -> list[dict[str, Any]]:
    """Every process; `cpu_pct` is its share of one CPU over `sample_s` (100 = one core busy)."""
    found: dict[int, dict[str, Any]] = {}
    before: dict[int, tuple[psutil.Process, float]] = {}
    for process in psutil.process_iter(_ATTRS):
        info = process.info
        if info.get("create_time") is None or len(found) >= MAX_PROCESSES:
            continue  # gone while we looked
        cmdline = " ".join(info.get("cmdline") or [])
        memory = info.get("memory_info")
        times = info.get("cpu_times")
        found[process.pid] = {
            "pid": process.pid,
            "ppid": info.get("ppid"),
            "name": info.get("name") or "",
            "user": info.get("username"),
            "cpu_pct": 0.0,
            "rss_bytes": int(memory.rss) if memory else None,
            "cmdline": cmdline[:MAX_CMDLINE_CHARS],
            "started_at": iso_utc(info["create_time"]),
        }
        if times is not None:
            before[process.pid] = (process, float(times.user + times.system))
    started = time.monotonic()
    time.sleep(sample_s)
    elapsed = time.monotonic() - started
    for pid, (process, cpu_before) in before.items():
        cpu_after = _cpu_seconds(process)
        if cpu_after is not None and elapsed > 0:
            found[pid]["cpu_pct"] = round(max(0.0, cpu_after - cpu_before) / elapsed * 100, 1)
    return [found[pid] for pid in sorted(found)]
