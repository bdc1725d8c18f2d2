"""B10 — one real agent for 60 minutes with a script job every 30 s (PERFORMANCE.md, issue 5):
the worker's and the supervisor's RSS at 10 and at 60 minutes, every job's outcome, fds and threads.
Real server, real agent (`borealis agent run`: supervisor + worker), default agent settings except
no start-up delay; the rig (server, proxy, enrolled agent) is bench/agent_longevity.py's.

    .venv/bin/python bench/agent_soak.py                      # 60 minutes
    .venv/bin/python bench/agent_soak.py --minutes 12         # a shorter look

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_longevity import FINAL, Rig, snapshot
from harness import emit, log, machine

SCRIPT = 'echo "tick $(date +%s)"; head -c 2048 /dev/urandom | base64 | head -c 1024; echo'


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="borealis-b10-", dir=args.tmp))
    rig = Rig(root, args.port, {"heartbeat_s": 30.0}, {"startup_delay_s": 0.0})
    record: dict[str, Any] = {
        "scenario": "b10",
        "machine": machine(),
        "minutes": args.minutes,
        "every_s": args.every,
    }
    samples: dict[str, Any] = {}
    jobs: list[str] = []
    try:
        await rig.start()
        await rig.wait_online()
        started = time.monotonic()
        marks = sorted({m for m in (1, 10, 30, 60, args.minutes) if m <= args.minutes})
        next_job = started
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            if time.monotonic() >= next_job:
                jobs.append(await rig.submit("script", {"language": "bash", "script": SCRIPT}, timeout_s=60))
                next_job += args.every
            for mark in marks:
                key = f"{mark}min"
                if key not in samples and elapsed >= mark * 60:
                    worker = rig.worker_pid()
                    samples[key] = {
                        "worker": snapshot(worker) if worker else None,
                        "supervisor": snapshot(rig.supervisor_pid),
                        "jobs_submitted": len(jobs),
                    }
                    log(f"B10 {key}: {samples[key]}")
            await asyncio.sleep(1.0)
        rows = await rig.wait_final(jobs, 120)
        statuses: dict[str, int] = {}
        for job_id in jobs:
            status = rows.get(job_id, ("missing", None, 0))[0]
            statuses[status] = statuses.get(status, 0) + 1
        worker = rig.worker_pid()
        samples["end"] = {
            "worker": snapshot(worker) if worker else None,
            "supervisor": snapshot(rig.supervisor_pid),
        }
        status = rig.status()
        record |= {
            "samples": samples,
            "jobs": len(jobs),
            "job_statuses": statuses,
            "all_final": all(rows.get(j, ("",))[0] in FINAL for j in jobs),
            "restarts": status.get("restarts"),
            "outbox": {k: v for k, v in status.items() if k.startswith("outbox")},
        }
    finally:
        await rig.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between jobs")
    parser.add_argument("--port", type=int, default=5971)
    parser.add_argument("--tmp", default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    emit(asyncio.run(soak(args)))


if __name__ == "__main__":
    main()
