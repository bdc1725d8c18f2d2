"""B12 — the workflow engine (PERFORMANCE.md): (a) 40 sequential no-op steps, (b) 40 steps each run
on a simulated agent, (c) 1,000 concurrent 10-step runs. Real server process (SQLite), runs started
through the API; each scenario prints one JSON line.

    .venv/bin/python bench/workflows.py a --runs 20
    .venv/bin/python bench/workflows.py b --runs 5          # one simulated agent (bench/simagents.py)
    .venv/bin/python bench/workflows.py c --runs 1000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import Api, Fleet, Generators, Server, emit, log, machine, run_cli, sample
from simagents import summary

FINAL = {"succeeded", "failed", "timed_out", "cancelled", "interrupted"}
SUBMIT_IN_FLIGHT = 50


def chain(steps: int, node: dict[str, Any], concurrency: int = 10) -> dict[str, Any]:
    nodes = [{"id": "start", "type": "trigger.manual"}]
    nodes += [{**node, "id": f"s{i}"} for i in range(steps)]
    ids = [n["id"] for n in nodes]
    edges = [{"source": a, "target": b} for a, b in itertools.pairwise(ids)]
    return {"nodes": nodes, "edges": edges, "settings": {"concurrency": concurrency, "timeout_s": 3600}}


NOOP = {"type": "data.set", "params": {"values": {"step": "{{ run.id }}"}}}


def workflows_token(fleet: Fleet) -> str:
    path = fleet.state / "token-workflows"
    if not path.exists():
        fleet.home.mkdir(parents=True, exist_ok=True)
        Server(fleet.home, fleet.port).write_config()
        scopes = ("workflows:read", "workflows:write", "jobs:run", "jobs:read", "agents:read")
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        path.write_text(run_cli("admin", "create-token", "--name", "bench-workflows", *args, home=fleet.home))
    return path.read_text().strip()


def _seconds(run: dict[str, Any], start: str, end: str) -> float:
    return (datetime.fromisoformat(run[end]) - datetime.fromisoformat(run[start])).total_seconds()


async def _create(api: Api, document: dict[str, Any]) -> str:
    response = await api.client.post("/api/v1/workflows", json={"name": "bench", "document": document})
    response.raise_for_status()
    return str(response.json()["id"])


async def _finish(api: Api, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = (await api.client.get(f"/api/v1/runs/{run_id}")).json()
        if run["status"] in FINAL or time.monotonic() > deadline:
            return run
        await asyncio.sleep(0.01)


async def sequential(api: Api, document: dict[str, Any], runs: int) -> dict[str, Any]:
    workflow_id = await _create(api, document)
    engine, client, queued, failed = [], [], [], 0
    for _ in range(runs):
        started = time.monotonic()
        response = await api.client.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}})
        run = await _finish(api, response.json()["id"], 120)
        client.append(time.monotonic() - started)
        if run["status"] != "succeeded":
            failed += 1
            continue
        engine.append(_seconds(run, "started_at", "finished_at"))
        queued.append(_seconds(run, "created_at", "started_at"))
    return {
        "engine_s": summary(engine),
        "queued_s": summary(queued),
        "client_s": summary(client),
        "failed": failed,
    }


async def concurrent(api: Api, document: dict[str, Any], runs: int) -> dict[str, Any]:
    workflow_id = await _create(api, document)
    started = time.monotonic()
    gate = asyncio.Semaphore(SUBMIT_IN_FLIGHT)

    async def submit() -> None:
        async with gate:
            response = await api.client.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {}})
            response.raise_for_status()

    await asyncio.gather(*(submit() for _ in range(runs)))
    submitted = time.monotonic() - started
    statuses: dict[str, int] = {}
    while True:
        statuses = {}
        cursor = None
        while True:
            params: dict[str, Any] = {"workflow_id": workflow_id, "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = (await api.client.get("/api/v1/runs", params=params)).json()
            for run in page["items"]:
                statuses[run["status"]] = statuses.get(run["status"], 0) + 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        if sum(v for k, v in statuses.items() if k in FINAL) >= runs or time.monotonic() - started > 600:
            break
        await asyncio.sleep(0.1)
    return {
        "runs": runs,
        "submitted_s": round(submitted, 3),
        "all_final_s": round(time.monotonic() - started, 3),
        "statuses": statuses,
    }


async def main(args: argparse.Namespace) -> None:
    fleet = Fleet(args.state, args.port)
    agents = 1 if args.scenario == "b" else 0
    if agents:
        fleet.ensure(agents)
    token = workflows_token(fleet)
    server = fleet.server(heartbeat_s=30.0)
    server.start()
    gens: Generators | None = None
    api = Api(server.url, token)
    record: dict[str, Any] = {"scenario": f"b12{args.scenario}", "machine": machine()}
    try:
        before = sample(server.proc)
        if args.scenario == "a":
            record |= {"steps": 40, "runs": args.runs} | await sequential(api, chain(40, NOOP), args.runs)
            record["target_s"] = 0.4
        elif args.scenario == "b":
            gens = Generators()
            await gens.start(fleet, server, agents, 30.0, duration=3600, job_times=False)
            if await gens.wait_connected(agents, 60) is None:
                raise RuntimeError("the simulated agent did not connect")
            agent_id = fleet.agent_ids(0, 1)[0]
            step = {
                "type": "agents.run_script",
                "params": {
                    "target": {"agents": [agent_id]},
                    "language": "sh",
                    "script": "true",
                    "timeout_s": 30,
                },
            }
            record |= {"steps": 40, "runs": args.runs} | await sequential(api, chain(40, step), args.runs)
            record["target_s"] = 1.0
        else:
            record |= await concurrent(api, chain(10, NOOP, concurrency=args.runs), args.runs)
            record["target_s"] = 10.0
        after = sample(server.proc)
        record["server_rss_mib"] = round(after.rss / 2**20, 1)
        record["server_cpu_s"] = round(after.cpu_s - before.cpu_s, 2)
    finally:
        await api.close()
        if gens is not None:
            await gens.stop()
        server.stop()
    emit(record)
    log(f"B12{args.scenario}: {record}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=["a", "b", "c"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--state", type=Path, default=Path("/tmp/borealis-bench-workflows"))
    parser.add_argument("--port", type=int, default=5961)
    asyncio.run(main(parser.parse_args()))
