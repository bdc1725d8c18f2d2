"""B11 scheduler lateness: N schedules due in the same second while simulated agents hold connections.

    .venv/bin/python bench/schedules.py run --agents 1000 --schedules 1000      # smoke, ~2 min
    .venv/bin/python bench/schedules.py run --agents 10000 --schedules 1000     # under B1 load

`run` keeps its own fleet (state `/tmp/borealis-bench-schedules`, port 5894; identities enrolled once,
like bench/scenarios.py), removes the schedules a previous run left, starts the server on SQLite,
connects every agent through `simagents.py run` generator processes (30 s heartbeat: the B1 idle
load), then creates N schedules through the API, each a 6-field cron expression naming one second
`--lead` seconds ahead, `max_runs = 1`, running a no-op script job on one connected agent. After that
second it waits `--wait` seconds and reads the server's SQLite database: for every slot its claim
time (`fired_at`, when the scheduler took it and decided to fire), the job's row (`jobs.created_at`:
the job submitted) and the agents' stored results. Prints one JSON line: claim lateness and job
lateness (p50, p99, max, n), slots fired early (must be 0), missed (no record, or not fired), results
stored, server CPU and RSS. Loopback only; every wait has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Fleet, Generators, emit, log, machine, run_cli, sample
from simagents import summary

DEFAULT_STATE = Path("/tmp/borealis-bench-schedules")
MiB = 1024 * 1024
SCRIPT = {"language": "sh", "script": "true"}


def token(fleet: Fleet) -> str:
    path = fleet.state / "token-schedules"
    if not path.exists():
        scopes = ("schedules:write", "schedules:read", "jobs:run", "jobs:read", "agents:read", "metrics:read")
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        path.write_text(run_cli("admin", "create-token", "--name", "bench-schedules", *args, home=fleet.home))
    return path.read_text().strip()


def forget_schedules(db: Path) -> None:
    """A previous run's schedules (and their records) go; the fleet's agents stay."""
    if not db.exists():
        return
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schedules" in tables:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("DELETE FROM schedules")


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


def results(db: Path, slot: datetime) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT r.slot_at, r.fired_at, r.outcome, j.created_at, "
            " (SELECT COUNT(*) FROM job_results x WHERE x.job_id = j.id AND x.finished_at IS NOT NULL) "
            "FROM schedules s LEFT JOIN schedule_runs r ON r.schedule_id = s.id "
            "LEFT JOIN jobs j ON j.id = r.job_id"
        ).fetchall()
    claim: list[float] = []
    submitted: list[float] = []
    early = missed = stored = 0
    for slot_at, fired_at, outcome, created_at, finished in rows:
        fired, created = at(fired_at), at(created_at)
        if outcome != "fired" or fired is None or at(slot_at) != slot:
            missed += 1
            continue
        lateness = (fired - slot).total_seconds() * 1000
        early += lateness < 0
        claim.append(lateness)
        if created is not None:
            submitted.append((created - slot).total_seconds() * 1000)
        stored += int(finished or 0)
    return {
        "schedules": len(rows),
        "claim_lateness_ms": summary(claim, 1),
        "job_created_lateness_ms": summary(submitted, 1),
        "fired_early": early,
        "missed": missed,
        "results_stored": stored,
    }


async def create_all(client: httpx.AsyncClient, count: int, agent_ids: list[str], slot: datetime) -> float:
    cron = f"{slot.second} {slot.minute} {slot.hour} {slot.day} {slot.month} *"
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    started = time.monotonic()

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            body = {
                "name": f"b11-{index}",
                "cron": cron,
                "timezone": "UTC",
                "max_runs": 1,
                "action": {
                    "type": "job",
                    "job": {
                        "role": "script",
                        "params": SCRIPT,
                        "target": {"agents": [agent_ids[index % len(agent_ids)]]},
                    },
                },
            }
            response = await client.post("/api/v1/schedules", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"create failed: {response.status_code} {response.text[:300]}")

    await asyncio.gather(*(worker() for _ in range(8)))
    return time.monotonic() - started


async def run(args: argparse.Namespace) -> None:
    fleet = Fleet(Path(args.state), args.port)
    fleet.ensure(args.agents)
    secret = token(fleet)
    server = fleet.server(heartbeat_s=30.0)
    forget_schedules(server.db)
    server.start()
    gens = Generators()
    try:
        await gens.start(fleet, server, args.agents, heartbeat_s=30.0, duration=args.lead + args.wait + 600)
        ramp = await gens.wait_connected(args.agents, timeout=300)
        if ramp is None:
            raise RuntimeError("the agents did not all connect")
        log(f"{args.agents} agents connected in {ramp:.1f}s")
        agent_ids = fleet.agent_ids(0, args.agents)
        slot = (datetime.now(UTC) + timedelta(seconds=args.lead)).replace(microsecond=0)
        async with httpx.AsyncClient(
            base_url=server.url, headers={"authorization": f"Bearer {secret}"}, timeout=60
        ) as client:
            create_s = await create_all(client, args.schedules, agent_ids, slot)
        left = (slot - datetime.now(UTC)).total_seconds()
        log(f"{args.schedules} schedules created in {create_s:.1f}s; due in {left:.1f}s")
        if left < 2:
            raise RuntimeError("creating the schedules took longer than --lead; raise it")
        await asyncio.sleep(max(0.0, left - 1))
        proc = server.proc
        before = sample(proc)
        await asyncio.sleep(1 + args.wait)
        after = sample(proc)
        figures = results(server.db, slot)
        emit(
            {
                "scenario": "B11",
                "agents": args.agents,
                **figures,
                "create_s": round(create_s, 1),
                "server_cpu_pct_of_core_during": round(
                    100 * (after.cpu_s - before.cpu_s) / (after.wall - before.wall), 1
                ),
                "server_rss_mib": round(after.rss / MiB, 1),
                "agents_connected_end": gens.total("connected"),
                "machine": machine(),
                "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            }
        )
    finally:
        await gens.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state", default=str(DEFAULT_STATE))
    parser.add_argument("--port", type=int, default=5894)
    sub = parser.add_subparsers(dest="command", required=True)
    scenario = sub.add_parser("run", help="B11: schedules due in the same second")
    scenario.add_argument("--agents", type=int, default=1000)
    scenario.add_argument("--schedules", type=int, default=1000)
    scenario.add_argument("--lead", type=float, default=45.0, help="seconds from creating to the slot")
    scenario.add_argument("--wait", type=float, default=20.0, help="seconds after the slot before reading")
    args = parser.parse_args()
    args.lead = max(args.lead, math.ceil(args.schedules / 50))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
