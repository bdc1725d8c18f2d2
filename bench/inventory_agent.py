"""The agent's cost of an inventory collection (issue 4's measure): a full one on a fresh agent, and an
unchanged one (the next round, after a restart: all sections collected, only changed ones sent), and an
unchanged round of the six cheap sections that the schedule runs every 15 minutes.

Each phase runs in a fresh Python process, so peak RSS is that phase's alone; CPU counts the process
and the programs it ran (dpkg-query, apt-get -s, systemctl). Prints one JSON line:

    .venv/bin/python bench/inventory_agent.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

CHEAP = ("system", "cpu", "memory", "disks", "network", "users")  # the 15-minute group


async def _phase(home: Path, names: list[str]) -> dict[str, Any]:
    from borealis.agent.inventory.collectors import CollectorConfig, Collectors
    from borealis.agent.inventory.service import InventoryService, Schedule
    from borealis.agent.link.outbox import Outbox
    from borealis.agent.link.uplink import Uplink
    from borealis.protocol.inventory import SECTIONS

    outbox = Outbox(home / "outbox.db", 10_000, 64 * 1024 * 1024)
    await outbox.open()
    service = InventoryService(
        Collectors(CollectorConfig()), Schedule(enabled=False), home / "inventory.json"
    )
    service.attach(outbox, Uplink(outbox))
    await service.start()
    queued = {str(m["msg_id"]) for m in await outbox.unacked()}
    rss_before = _rss_now()
    cpu0, wall0 = _cpu(), time.perf_counter()
    collected = await service.refresh(names or SECTIONS, force=False)
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    frames = [m for m in await outbox.unacked() if str(m["msg_id"]) not in queued]
    await service.stop()
    await outbox.close()
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "rss_before_mib": round(rss_before / 2**20, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "sections_sent": sorted({name for f in frames for name in f["sections"]}),
        "frames": len(frames),
        "bytes_sent": sum(len(orjson.dumps(f)) for f in frames),
        "errors": {n: s["error"] for n, s in collected.items() if s["error"]},
        "slowest_ms": dict(
            sorted(((n, s["duration_ms"]) for n, s in collected.items()), key=lambda kv: -kv[1])[:4]
        ),
    }


def _cpu() -> float:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _rss_now() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _run_phase(home: Path, names: tuple[str, ...] = ()) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--phase", str(home), *names]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=900)
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("sections", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(orjson.dumps(asyncio.run(_phase(Path(args.phase), args.sections))).decode())
        return
    full, unchanged, cheap = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="borealis-inv-bench-") as home:
            full.append(_run_phase(Path(home)))
            unchanged.append(_run_phase(Path(home)))
            cheap.append(_run_phase(Path(home), CHEAP))

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "cpu_s_median": statistics.median(r["cpu_s"] for r in runs),
            "peak_rss_mib_max": max(r["peak_rss_mib"] for r in runs),
            "children_peak_rss_mib_max": max(r["children_peak_rss_mib"] for r in runs),
            "rss_before_mib_median": statistics.median(r["rss_before_mib"] for r in runs),
            "bytes_sent_median": statistics.median(r["bytes_sent"] for r in runs),
            "runs": runs,
        }

    print(
        orjson.dumps(
            {
                "bench": "inventory_agent",
                "host": os.uname().nodename,
                "cpus": os.cpu_count(),
                "load_1m": round(os.getloadavg()[0], 2),
                "full": summary(full),
                "unchanged": summary(unchanged),
                "cheap_unchanged": summary(cheap),
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
