"""Borealis benchmark scenarios (PERFORMANCE.md): B1 idle hold, B15 heartbeat cost, B6 reconnect storm,
B7 the real agent's idle footprint. Each run prints one JSON line on stdout; progress goes to stderr.

  python bench/scenarios.py enroll --agents 19500          # once: the fleet is kept and reused
  python bench/scenarios.py b1  --agents 1000 --hold 30     # smoke
  python bench/scenarios.py b1  --agents 10000 --hold 120
  python bench/scenarios.py b15 --agents 19500 --window 150
  python bench/scenarios.py b6  --agents 10000
  python bench/scenarios.py b7  --settle 600 --window 120

See bench/README.md. The server under test is `python -m borealis server` (SQLite, uvicorn + uvloop,
websockets-sansio) started as a subprocess; its RSS and CPU are read with psutil on its pid alone.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    DEFAULT_STATE,
    PY,
    Api,
    Fleet,
    Generators,
    MiB,
    Server,
    ctx_switches,
    emit,
    false_offline,
    listen_counters,
    log,
    machine,
    merge_handshakes,
    run_cli,
    sample,
)
from simagents import pct, summary


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def _common(scenario: str, args: argparse.Namespace, run: int) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "run": run,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        # the machine is shared: other work running at the same time shows here
        "load_avg_1m_start": round(os.getloadavg()[0], 2),
    }


async def _hold_and_measure(
    server: Server,
    api: Api,
    gens: Generators,
    hold_s: float,
    ours: set[str],
    mid_check: bool,
) -> dict[str, Any]:
    """The measurement window: server CPU, RSS, writes, heartbeats; optionally a false-offline check mid-way."""
    proc = server.proc
    hb0 = await api.heartbeats_total()
    s0 = sample(proc)
    gen_cpu0 = _cpu_of(gens.pids)
    sizes0 = server.db_sizes()
    wal_changes = 0
    last_wal = sizes0["db_wal"]
    wal_mtime = _mtime(Path(str(server.db) + "-wal"))
    rss_peak = s0.rss
    excluded_cpu = 0.0
    mid: dict[str, Any] | None = None
    started = time.monotonic()
    while time.monotonic() - started < hold_s:
        await asyncio.sleep(min(1.0, hold_s - (time.monotonic() - started)))
        rss_peak = max(rss_peak, proc.memory_info().rss)
        mtime = _mtime(Path(str(server.db) + "-wal"))
        if mtime != wal_mtime:
            wal_changes += 1
            wal_mtime = mtime
        last_wal = server.db_sizes()["db_wal"]
        if mid_check and mid is None and time.monotonic() - started >= hold_s / 2:
            before = sample(proc).cpu_s
            mid = await false_offline(api, ours)
            excluded_cpu += sample(proc).cpu_s - before
    s1 = sample(proc)
    gen_cpu1 = _cpu_of(gens.pids)
    hb1 = await api.heartbeats_total()
    sizes1 = server.db_sizes()
    wall = s1.wall - s0.wall
    cpu = s1.cpu_s - s0.cpu_s - excluded_cpu
    beats = hb1 - hb0
    return {
        "window_s": round(wall, 1),
        "server_cpu_s": round(cpu, 3),
        "server_cpu_pct_of_core": round(100 * cpu / wall, 2),
        "generators_cpu_pct_of_core": round(100 * (gen_cpu1 - gen_cpu0) / wall, 1),
        "heartbeats": beats,
        "heartbeats_per_s": round(beats / wall, 1),
        "us_per_heartbeat": round(1e6 * cpu / beats, 1) if beats else None,
        "rss_end": s1.rss,
        "rss_peak": rss_peak,
        "fds": s1.fds,
        "server_write_bytes": s1.write_bytes - s0.write_bytes,
        "server_write_calls": s1.write_calls - s0.write_calls,
        "db_sizes_start": sizes0,
        "db_sizes_end": sizes1 | {"db_wal_last_sampled": last_wal},
        "wal_mtime_changes": wal_changes,
        "excluded_check_cpu_s": round(excluded_cpu, 3),
        "mid_hold_check": mid,
    }


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


async def _steady_run(
    scenario: str, args: argparse.Namespace, run: int, heartbeat_s: float, processes: int | None
) -> dict[str, Any]:
    """B1 and B15 share this: connect N, settle, hold while measuring, check presence, disconnect."""
    n = args.agents
    fleet = Fleet(args.state, args.port)
    server = fleet.server(heartbeat_s=heartbeat_s, last_seen_flush_s=args.flush_s)
    if args.profile:
        server.python_args = ["-m", "cProfile", "-o", str(args.profile)]
    server.start()
    api = Api(server.url, fleet.token)
    gens = Generators()
    ours = set(fleet.agent_ids(0, n))
    record = _common(scenario, args, run) | {
        "agents": n,
        "heartbeat_s": heartbeat_s,
        "last_seen_flush_s": args.flush_s,
        "hold_s": args.hold,
    }
    try:
        # Warm the routes the scenario calls, so their one-off allocations are in the baseline.
        await api.heartbeats_total()
        await false_offline(api, ours)
        await asyncio.sleep(2)
        before = sample(server.proc)
        await gens.start(
            fleet,
            server,
            n,
            heartbeat_s,
            duration=args.connect_timeout + args.settle + args.hold + 120,
            processes=processes,
        )
        ramp = await gens.wait_connected(n, args.connect_timeout)
        after_ramp = sample(server.proc)
        connected_after_ramp = gens.total("connected")
        log(f"{scenario}: {connected_after_ramp}/{n} connected in {ramp}")
        await asyncio.sleep(args.settle)
        window = await _hold_and_measure(server, api, gens, args.hold, ours, mid_check=scenario == "b1")
        end_check = await false_offline(api, ours)
        disconnects = gens.total("disconnects")
        connected_end = gens.total("connected")
        failures = gens.total("connect_failures")
        dones = await gens.stop()
    finally:
        for generator in gens.items:
            if generator.process.returncode is None:
                generator.process.kill()
        server.stop()
        await api.close()
    mid = window.pop("mid_hold_check") or {}
    record |= {
        "connected_after_ramp": connected_after_ramp,
        "ramp_s": round(ramp, 2) if ramp is not None else None,
        "handshake_ms": merge_handshakes(dones),
        "ramp_server_cpu_s": round(after_ramp.cpu_s - before.cpu_s, 2),
        "ramp_server_cpu_ms_per_connect": round(
            1000 * (after_ramp.cpu_s - before.cpu_s) / max(1, connected_after_ramp), 3
        ),
        "connected_end": connected_end,
        "disconnects": disconnects,
        "connect_failures": failures,
        "false_offline_mid": mid.get("false_offline"),
        "false_offline_end": end_check["false_offline"],
        "rss_before_mib": round(before.rss / MiB, 1),
        "rss_end_mib": round(window["rss_end"] / MiB, 1),
        "rss_peak_mib": round(window["rss_peak"] / MiB, 1),
        "rss_per_agent_kib": round((window["rss_end"] - before.rss) / n / 1024, 1),
        "generator_processes": len(gens.items),
        **window,
    }
    return record


def _medians(records: list[dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        values = [r[key] for r in records if isinstance(r.get(key), int | float)]
        if values:
            out[key] = statistics.median(values)
    return out


async def cmd_steady(args: argparse.Namespace, scenario: str) -> None:
    fleet = Fleet(args.state, args.port)
    fleet.ensure(args.agents)
    heartbeat = args.heartbeat
    records = []
    for run in range(1, args.runs + 1):
        record = await _steady_run(scenario, args, run, heartbeat, args.generators)
        if scenario == "b1":
            record["targets"] = _b1_targets(record)
        else:
            record["targets"] = {
                "us_per_heartbeat<=60": (record["us_per_heartbeat"] or 1e9) <= 60,
                "stretch_us_per_heartbeat<=30": (record["us_per_heartbeat"] or 1e9) <= 30,
            }
        records.append(record)
        emit(record)
    if len(records) > 1:
        keys = [
            "server_cpu_pct_of_core",
            "rss_end_mib",
            "rss_per_agent_kib",
            "us_per_heartbeat",
            "disconnects",
            "false_offline_end",
            "ramp_s",
        ]
        emit(
            {
                "scenario": scenario,
                "summary": "median",
                "runs": len(records),
                "agents": args.agents,
                **_medians(records, keys),
            }
        )


def _b1_targets(r: dict[str, Any]) -> dict[str, bool]:
    return {
        "rss<=350MiB": r["rss_end_mib"] <= 350,
        "per_agent<=24KiB": r["rss_per_agent_kib"] <= 24,
        "cpu<=5%": r["server_cpu_pct_of_core"] <= 5,
        "no_disconnects": r["disconnects"] == 0,
        "no_false_offline": not r["false_offline_end"] and not r["false_offline_mid"],
    }


# --------------------------------------------------------------------------- B6


async def cmd_b6(args: argparse.Namespace) -> None:
    n = args.agents
    fleet = Fleet(args.state, args.port)
    fleet.ensure(n)
    for run in range(1, args.runs + 1):
        server = fleet.server(heartbeat_s=30.0)
        server.start()
        gens = Generators()
        record = _common("b6", args, run) | {"agents": n}
        try:
            await gens.start(
                fleet,
                server,
                n,
                30.0,
                duration=args.connect_timeout + args.settle + args.timeout + 120,
                welcome_times=True,
            )
            ramp = await gens.wait_connected(n, args.connect_timeout)
            if ramp is None:
                raise RuntimeError(f"only {gens.total('connected')}/{n} connected before the storm")
            await asyncio.sleep(args.settle)
            welcomes0 = gens.total("welcomes")
            failures0 = gens.total("connect_failures")
            counters0 = listen_counters()
            killed_at = time.time()
            server.kill()
            server.start(wait=False)
            ready_s = await asyncio.to_thread(server.wait_ready)
            restart_cpu0 = sample(server.proc).cpu_s
            first99: float | None = None
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                back = gens.total("welcomes") - welcomes0
                if first99 is None and back >= math.ceil(0.99 * n):
                    first99 = time.time() - killed_at
                if back >= n:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            counters1 = listen_counters()
            storm = sample(server.proc)
            failures = gens.total("connect_failures") - failures0
            dones = await gens.stop()
        finally:
            for generator in gens.items:
                if generator.process.returncode is None:
                    generator.process.kill()
            server.stop()
        welcome_at: dict[str, float] = {}
        for done in dones:
            welcome_at |= done.get("welcome_at") or {}
        back_s = sorted(w - killed_at for w in welcome_at.values() if w > killed_at)
        need99 = math.ceil(0.99 * n)
        t99 = back_s[need99 - 1] if len(back_s) >= need99 else None
        t100 = back_s[-1] if len(back_s) >= n else None
        overflow = {k: counters1[k] - counters0[k] for k in counters0}
        record |= {
            "ramp_s": round(ramp, 2),
            "server_ready_after_kill_s": round(ready_s, 2),
            "back": len(back_s),
            "back_99pct_s": round(t99, 2) if t99 is not None else None,
            "back_100pct_s": round(t100, 2) if t100 is not None else None,
            "back_seconds": summary(back_s, 2),
            "back_p50_s": round(pct(back_s, 0.5) or 0, 2),
            "failed_attempts_during_storm": failures,
            "listen_counters_delta": overflow,
            "server_cpu_s_storm": round(storm.cpu_s - restart_cpu0, 2),
            "server_rss_after_storm_mib": round(storm.rss / MiB, 1),
            "targets": {
                "99%<=30s": t99 is not None and t99 <= 30,
                "all<=60s": t100 is not None and t100 <= 60,
                "no_listen_overflows": overflow.get("ListenOverflows", 0) == 0
                and overflow.get("ListenDrops", 0) == 0,
            },
        }
        emit(record)


# --------------------------------------------------------------------------- B7


async def cmd_b7(args: argparse.Namespace) -> None:
    base = args.state / "b7"
    server_home = base / "server"
    agent_home = base / "agent"
    shutil.rmtree(agent_home, ignore_errors=True)
    server = Server(server_home, args.port + 7, {"heartbeat_s": args.heartbeat})
    server.write_config()
    code = run_cli("admin", "create-enrollment", "--uses", "1", "--expires", "1h", home=server_home)
    server.start()
    supervisor: subprocess.Popen[bytes] | None = None
    record = _common("b7", args, 1) | {"heartbeat_s": args.heartbeat, "settle_s": args.settle}
    try:
        agent_id = run_cli("agent", "enroll", "--code", code, home=agent_home).splitlines()[-1]
        out = (base / "agent-run.out").open("ab")
        supervisor = subprocess.Popen(
            [PY, "-m", "borealis", "agent", "run", "--home", str(agent_home), "--no-startup-delay"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        started = time.monotonic()
        sup = psutil.Process(supervisor.pid)
        worker: psutil.Process | None = None
        token = run_cli("admin", "create-token", "--name", "b7", "--scope", "agents:read", home=server_home)
        online_after: float | None = None
        while time.monotonic() - started < 60:
            children = sup.children(recursive=True)
            worker = children[0] if children else None
            response = httpx.get(
                f"{server.url}/api/v1/agents/{agent_id}",
                headers={"authorization": f"Bearer {token}"},
                timeout=5,
            )
            if worker is not None and response.status_code == 200 and response.json()["status"] == "online":
                online_after = time.monotonic() - started
                break
            await asyncio.sleep(0.25)
        if worker is None or online_after is None:
            raise RuntimeError("the agent did not come online within 60 s; see agent-run.out")
        log(f"b7: agent {agent_id} online after {online_after:.1f}s; settling {args.settle}s")
        await asyncio.sleep(max(0.0, args.settle - (time.monotonic() - started)))
        procs = {"supervisor": sup, "worker": worker}
        first = {name: (p.cpu_times(), ctx_switches(p.pid), time.monotonic()) for name, p in procs.items()}
        await asyncio.sleep(args.window)
        for name, proc in procs.items():
            cpu0, (vol0, inv0), t0 = first[name]
            cpu1, (vol1, inv1) = proc.cpu_times(), ctx_switches(proc.pid)
            wall = time.monotonic() - t0
            used = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
            record[name] = {
                "pid": proc.pid,
                "rss_mib": round(proc.memory_info().rss / MiB, 2),
                "uss_mib": round(proc.memory_full_info().uss / MiB, 2),
                "cpu_pct_of_core": round(100 * used / wall, 4),
                "cpu_s": round(used, 3),
                "wakeups_per_s": round((vol1 - vol0) / wall, 3),
                "ctx_switches_per_s": round(((vol1 - vol0) + (inv1 - inv0)) / wall, 3),
                "threads": proc.num_threads(),
                "fds": proc.num_fds(),
            }
        record["measured_at_s_after_start"] = round(time.monotonic() - started, 1)
        record["window_s"] = args.window
        record["online_after_s"] = round(online_after, 2)
        w, s = record["worker"], record["supervisor"]
        record["targets"] = {
            "worker_rss<=32MiB": w["rss_mib"] <= 32,
            "supervisor_rss<=20MiB": s["rss_mib"] <= 20,
            "cpu<=0.02%": w["cpu_pct_of_core"] + s["cpu_pct_of_core"] <= 0.02,
            "wakeups<=1/s": w["wakeups_per_s"] + s["wakeups_per_s"] <= 1,
            "stretch_worker_rss<=25MiB": w["rss_mib"] <= 25,
        }
    finally:
        if supervisor is not None and supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)
            try:
                supervisor.wait(30)
            except subprocess.TimeoutExpired:
                supervisor.kill()
        server.stop()
    emit(record)


# --------------------------------------------------------------------------- B3 / B4 (jobs)

NOOP_JOB = {"role": "script", "params": {"language": "sh", "script": "true"}}


FINAL_STATES = frozenset({"succeeded", "failed", "timed_out", "cancelled", "expired", "interrupted"})


class _FinalRows:
    """A job's rows as its event stream tells them; `feed` is True once `n` are final or it ended.
    `progress["at"]` is when the last row so far turned final."""

    def __init__(self, n: int, progress: dict[str, float] | None) -> None:
        self.n = n
        self.progress = progress
        self.states: dict[str, str] = {}
        self.final = 0

    def feed(self, name: str, data: dict[str, Any]) -> bool:
        if name == "snapshot":
            self.states = {row["agent_id"]: row["status"] for row in data["results"]}
        elif name == "state":
            for agent_id in data["agent_ids"]:
                self.states[agent_id] = data["status"]
        else:
            return name == "end"
        now_final = sum(1 for status in self.states.values() if status in FINAL_STATES)
        if self.progress is not None and now_final > self.final:
            self.progress["at"] = time.monotonic()
        self.final = now_final
        return self.final >= self.n


async def _stored_by_stream(
    api: Api, job_id: str, n: int, timeout: float, progress: dict[str, float] | None = None
) -> float | None:
    """Follow the job's event stream (`GET /api/v1/jobs/{id}/events`) until `n` rows are final; the
    monotonic time that was seen, or None after `timeout`.

    The server publishes a state event after the commit that stored it, so this is when the last
    result was stored, without polling (which at 10 ms was itself a visible share of the server's CPU).
    `progress["at"]` is when the last row so far turned final."""
    rows = _FinalRows(n, progress)
    try:
        async with asyncio.timeout(timeout):
            while True:  # a stream cut by a saturated server is opened again (its snapshot catches up)
                try:
                    async with api.client.stream("GET", f"/api/v1/jobs/{job_id}/events") as response:
                        response.raise_for_status()
                        name = ""
                        async for line in response.aiter_lines():
                            if line.startswith("event: "):
                                name = line[len("event: ") :]
                            elif line.startswith("data: ") and rows.feed(name, orjson.loads(line[6:])):
                                return time.monotonic()
                except httpx.HTTPError:
                    if progress is not None:
                        progress["stream_errors"] = progress.get("stream_errors", 0) + 1
                    await asyncio.sleep(0.05)
    except TimeoutError:
        return None


async def _counts(api: Api, job_id: str) -> dict[str, int]:
    response = await api.client.get(f"/api/v1/jobs/{job_id}", params={"status": "cancelled"})
    response.raise_for_status()
    return {k: v for k, v in response.json()["counts"].items() if v}


async def _jobs_fleet(args: argparse.Namespace, n: int) -> tuple[Fleet, Server, Generators, Api]:
    fleet = Fleet(args.state, args.port)
    fleet.ensure(n)
    token = fleet.jobs_token
    server = fleet.server(heartbeat_s=30.0)
    if args.profile:
        server.python_args = ["-m", "cProfile", "-o", str(args.profile)]
    server.start()
    gens = Generators()
    await gens.start(fleet, server, n, 30.0, duration=args.connect_timeout + 600, job_times=True)
    ramp = await gens.wait_connected(n, args.connect_timeout)
    if ramp is None:
        raise RuntimeError(f"only {gens.total('connected')}/{n} connected")
    log(f"{n} connected in {ramp:.1f} s")
    await asyncio.sleep(args.settle)
    return fleet, server, gens, Api(server.url, token)


def _job_times(dones: list[dict[str, Any]]) -> dict[str, list[tuple[str, float]]]:
    """job_id → [(agent_id, wall time the frame arrived)] over every generator."""
    out: dict[str, list[tuple[str, float]]] = {}
    for done in dones:
        for job_id, agent_id, wall in done.get("job_times") or []:
            out.setdefault(job_id, []).append((agent_id, wall))
    return out


async def _fan_out(
    api: Api, server: Server, target: dict[str, Any], n: int, timeout: float
) -> dict[str, Any]:
    """One no-op job to the N connected agents; the server-side figures and what to match arrivals on."""
    proc = server.proc
    before = sample(proc)
    posted_wall = time.time()
    posted = time.monotonic()
    response = await api.client.post("/api/v1/jobs", json=NOOP_JOB | {"target": target})
    answered = time.monotonic()
    response.raise_for_status()
    job_id = response.json()["id"]
    progress: dict[str, float] = {}
    stored_at = await _stored_by_stream(api, job_id, n, timeout, progress)
    after = sample(proc)
    all_stored = stored_at - posted if stored_at is not None else None
    return {
        "job_id": job_id,
        "posted_wall": posted_wall,
        "post_response_s": round(answered - posted, 4),
        "all_results_stored_s": round(all_stored, 4) if all_stored is not None else None,
        "last_result_stored_s": round(progress["at"] - posted, 4) if "at" in progress else None,
        "stored_seen_by": "event stream",
        "stream_errors": int(progress.get("stream_errors", 0)),
        "counts": await _counts(api, job_id),
        "server_cpu_s": round(after.cpu_s - before.cpu_s, 2),
        "server_rss_before_mib": round(before.rss / MiB, 1),
        "server_rss_after_mib": round(after.rss / MiB, 1),
    }


async def cmd_b4(args: argparse.Namespace) -> None:
    n = args.agents
    for run in range(1, args.runs + 1):
        common = _common("b4", args, run) | {"agents": n}
        fleet, server, gens, api = await _jobs_fleet(args, n)
        fan_outs: list[dict[str, Any]] = []
        try:
            ids = fleet.agent_ids(0, n)
            # {all: true} would also target the enrolled agents that are not connected (the fleet is
            # larger than N); the explicit list is the same fan-out to exactly the N connected ones.
            target: dict[str, Any] = {"all": True} if fleet.count() == n else {"agents": ids}
            # warm the routes
            (await api.client.get("/api/v1/jobs", params={"limit": 1})).raise_for_status()
            for repeat in range(args.repeat):  # several fan-outs on one connected fleet
                if repeat:
                    await asyncio.sleep(args.settle)
                fan_outs.append(
                    await _fan_out(api, server, target, n, args.timeout)
                    | {"repeat": repeat + 1, "load_avg_1m_start": round(os.getloadavg()[0], 2)}
                )
            await asyncio.sleep(1.0)  # any duplicate frame would arrive by now
            dones = await gens.stop()
        finally:
            for generator in gens.items:
                if generator.process.returncode is None:
                    generator.process.kill()
            await api.close()
            server.stop()
        times = _job_times(dones)
        for fan_out in fan_outs:
            posted_wall = fan_out.pop("posted_wall")
            arrivals = times.get(fan_out.pop("job_id"), [])
            agents_seen = {a for a, _ in arrivals}
            recv = sorted(w - posted_wall for _, w in arrivals)
            record = common | fan_out
            record |= {
                "target": "all" if "all" in target else "agents[N]",
                "all_received_s": round(recv[-1], 4) if len(agents_seen) >= n else None,
                "received_s": summary(recv, 4),
                "frames_received": len(arrivals),
                "agents_received": len(agents_seen),
                "duplicates": len(arrivals) - len(agents_seen),
                "generators_disconnects": sum(int(d.get("disconnects", 0)) for d in dones),
            }
            limit = 0.3 if n <= 1000 else 2.5
            all_stored = record["all_results_stored_s"]
            ok = record["counts"].get("succeeded", 0) == n and record["duplicates"] == 0
            record["targets"] = {
                f"all_stored<={limit}s": all_stored is not None and all_stored <= limit and ok,
                "none_lost_or_duplicated": ok and len(agents_seen) == n,
            }
            emit(record)


async def _b3_once(args: argparse.Namespace, run: int) -> None:
    n = args.agents
    record = _common("b3", args, run) | {"agents": n, "jobs": args.jobs, "rate_per_s": args.rate}
    fleet, server, gens, api = await _jobs_fleet(args, n)
    submitted: dict[str, tuple[str, float, float]] = {}  # job_id → (agent, wall answered, mono answered)
    created: dict[str, float] = {}  # job_id → the server's created_at (wall), taken before its commit
    stored_ms: list[float] = []
    stream_progress: dict[str, float] = {}
    api_ms: list[float] = []
    errors: dict[str, int] = {}
    try:
        ids = fleet.agent_ids(0, n)
        (await api.client.get("/api/v1/jobs", params={"limit": 1})).raise_for_status()
        proc = server.proc
        before = sample(proc)
        interval = 1.0 / args.rate
        started = time.monotonic()
        pollers: list[asyncio.Task[None]] = []

        async def watch(job_id: str, answered: float) -> None:
            done_at = await _stored_by_stream(api, job_id, 1, 30.0, stream_progress)
            if done_at is None:
                errors["not_stored"] = errors.get("not_stored", 0) + 1
            else:
                stored_ms.append((done_at - answered) * 1000)

        async def submit(i: int) -> None:
            agent = ids[(i * 7919) % n]
            posted = time.monotonic()
            response = await api.client.post("/api/v1/jobs", json=NOOP_JOB | {"target": {"agents": [agent]}})
            answered, wall = time.monotonic(), time.time()
            if response.status_code != 201:
                errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                return
            api_ms.append((answered - posted) * 1000)
            job_id = response.json()["id"]
            submitted[job_id] = (agent, wall, answered)
            created[job_id] = datetime.fromisoformat(
                response.json()["created_at"].replace("Z", "+00:00")
            ).timestamp()
            pollers.append(asyncio.create_task(watch(job_id, answered)))

        submits = []
        for i in range(args.jobs):
            await asyncio.sleep(max(0.0, started + i * interval - time.monotonic()))
            submits.append(asyncio.create_task(submit(i)))
        await asyncio.gather(*submits)
        await asyncio.gather(*pollers)
        after = sample(proc)
        for job_id in submitted:  # after the measurement: every row stored as succeeded?
            if (await _counts(api, job_id)).get("succeeded") != 1:
                errors["not_succeeded"] = errors.get("not_succeeded", 0) + 1
        dones = await gens.stop()
    finally:
        for generator in gens.items:
            if generator.process.returncode is None:
                generator.process.kill()
        await api.close()
        server.stop()
    times = _job_times(dones)
    recv_ms: list[float] = []
    created_ms: list[float] = []
    lost = dup = wrong = 0
    for job_id, (agent, wall, _) in submitted.items():
        got = times.get(job_id, [])
        if not got:
            lost += 1
            continue
        dup += len(got) - 1
        wrong += sum(1 for a, _ in got if a != agent)
        recv_ms.append((min(w for _, w in got) - wall) * 1000)
        created_ms.append((min(w for _, w in got) - created[job_id]) * 1000)
    recv_ms.sort()
    created_ms.sort()
    stored_ms.sort()
    record |= {
        "submitted": len(submitted),
        "api_post_ms": summary(sorted(api_ms), 2),
        "accepted_to_received_ms": summary(recv_ms, 2),
        "accepted_to_stored_ms": summary(stored_ms, 2),
        # the server's created_at → the agent's receipt: the same path without the wait for the POST's
        # response to reach the client (which a saturated server delays, and which makes some negative)
        "created_to_received_ms": summary(created_ms, 2),
        "negative_received": sum(1 for x in recv_ms if x < 0),
        "lost": lost,
        "duplicates": dup,
        "wrong_agent": wrong,
        "errors": errors,
        "stream_errors": int(stream_progress.get("stream_errors", 0)),
        "server_cpu_s": round(after.cpu_s - before.cpu_s, 2),
        "server_rss_after_mib": round(after.rss / MiB, 1),
    }
    p50, p99 = pct(recv_ms, 0.5), pct(recv_ms, 0.99)
    s99 = pct(stored_ms, 0.99)
    record["targets"] = {
        "received_p50<=2ms": p50 is not None and p50 <= 2,
        "received_p99<=10ms": p99 is not None and p99 <= 10,
        "stored_p99<=25ms": s99 is not None and s99 <= 25,
        "none_lost": lost == 0 and not errors and len(submitted) == args.jobs,
    }
    emit(record)


async def cmd_b3(args: argparse.Namespace) -> None:
    for run in range(1, args.runs + 1):
        await _b3_once(args, run)


# --------------------------------------------------------------------------- B5 (offline targets)


async def _rows_by_status(api: Api, job_id: str) -> dict[str, str]:
    response = await api.client.get(f"/api/v1/jobs/{job_id}")
    response.raise_for_status()
    return {row["agent_id"]: row["status"] for row in response.json()["results"]}


async def _b5_once(args: argparse.Namespace, run: int) -> None:
    """A fan-out to N agents of which `--offline-pct` are not connected when it is submitted; those
    connect at random times over `--spread` seconds (each a first connect, as after an outage), some
    after the job's expiry (`--expires`)."""
    n = args.agents
    offline_n = max(1, round(n * args.offline_pct / 100))
    online_n = n - offline_n
    record = _common("b5", args, run) | {
        "agents": n,
        "offline": offline_n,
        "spread_s": args.spread,
        "expires_in_s": args.expires,
    }
    fleet = Fleet(args.state, args.port)
    fleet.ensure(n)
    server = fleet.server(heartbeat_s=30.0)
    server.start()
    api = Api(server.url, fleet.jobs_token)
    online = Generators()
    offline = Generators()
    duration = args.connect_timeout + args.spread + args.expires + 120
    try:
        await online.start(fleet, server, online_n, 30.0, duration=duration, job_times=True)
        ramp = await online.wait_connected(online_n, args.connect_timeout)
        if ramp is None:
            raise RuntimeError(f"only {online.total('connected')}/{online_n} connected")
        log(f"b5: {online_n} connected in {ramp:.1f} s; {offline_n} offline")
        await asyncio.sleep(args.settle)
        ids = fleet.agent_ids(0, n)
        offline_ids = set(ids[online_n:])
        proc = server.proc
        before = sample(proc)
        posted_wall = time.time()
        response = await api.client.post(
            "/api/v1/jobs", json=NOOP_JOB | {"target": {"agents": ids}, "expires_in_s": args.expires}
        )
        response.raise_for_status()
        job = response.json()
        expires_wall = posted_wall + args.expires
        await offline.start(
            fleet,
            server,
            offline_n,
            30.0,
            duration=args.spread + args.expires + 120,
            job_times=True,
            welcome_times=True,
            first=online_n,
            source_base=2 + len(online.items),
            first_connect_within=args.spread,
        )
        # Every offline agent has connected after `spread`; the expiry sweep ends the rest.
        waited = max(args.spread, args.expires) + 5
        log(f"b5: job {job['id']} posted; waiting {waited:.0f} s for the offline agents")
        await asyncio.sleep(waited)
        stored_at = await _stored_by_stream(api, job["id"], n, 60.0)
        after = sample(proc)
        rows = await _rows_by_status(api, job["id"])
        await asyncio.sleep(1.0)  # a duplicate frame would arrive by now
        online_dones = await online.stop()
        offline_dones = await offline.stop()
    finally:
        for generator in online.items + offline.items:
            if generator.process.returncode is None:
                generator.process.kill()
        await api.close()
        server.stop()
    frames = _b5_frames(job["id"], online_dones + offline_dones)
    welcomed: dict[str, float] = {}
    for done in offline_dones:
        welcomed.update(done.get("welcome_at") or {})
    online_times = [min(frames[a]) for a in ids[:online_n] if a in frames]
    fan_out_done_wall = max(online_times) if online_times else posted_wall
    tally = _B5Offline(expires_wall, fan_out_done_wall)
    for agent_id in offline_ids:
        tally.add(frames.get(agent_id, []), rows.get(agent_id), welcomed.get(agent_id))
    for agent_id in ids[:online_n]:
        got = frames.get(agent_id, [])
        if len(got) != 1 or rows.get(agent_id) != "succeeded":
            tally.fault("online_not_exactly_once")
    latency = sorted(tally.latency)
    counts: dict[str, int] = {}
    for status in rows.values():
        counts[status] = counts.get(status, 0) + 1
    online_recv = sorted(min(frames[a]) - posted_wall for a in ids[:online_n] if a in frames)
    record |= {
        "online": online_n,
        "online_all_received_s": round(online_recv[-1], 4) if len(online_recv) == online_n else None,
        "offline_connected_before_expiry": tally.in_time,
        "offline_connected_after_expiry": tally.late,
        "offline_borderline": tally.borderline,
        "offline_never_connected": tally.never_connected,
        "reconnect_to_received_ms": summary([x * 1000 for x in latency], 2),
        "reconnect_to_received_ms_during_fan_out": summary(sorted(x * 1000 for x in tally.during_fan_out), 2),
        "reconnect_to_received_ms_after_fan_out": summary(sorted(x * 1000 for x in tally.after_fan_out), 2),
        "all_final_s_after_post": round(stored_at - (before.wall), 1) if stored_at is not None else None,
        "counts": counts,
        "faults": tally.wrong,
        "server_cpu_s": round(after.cpu_s - before.cpu_s, 2),
        "generators_disconnects": sum(int(d.get("disconnects", 0)) for d in online_dones + offline_dones),
    }
    worst = latency[-1] if latency else None
    record["targets"] = {
        "offline_received_within_2s": worst is not None and worst <= 2.0 and len(latency) == tally.in_time,
        "exactly_once": not tally.wrong,
        "expired_say_expired": not any(k.startswith(("late", "never")) for k in tally.wrong),
    }
    emit(record)


def _b5_frames(job_id: str, dones: list[dict[str, Any]]) -> dict[str, list[float]]:
    """When each agent received the job's frame (wall clock), from the generators' reports."""
    frames: dict[str, list[float]] = {}
    for done in dones:
        for frame_job, agent_id, wall in done.get("job_times") or []:
            if frame_job == job_id:
                frames.setdefault(agent_id, []).append(wall)
    return frames


class _B5Offline:
    """How the agents that were offline when the job was posted fared, and what went wrong."""

    # connects this close to the expiry may go either way (the server's check runs after welcome)
    MARGIN_S = 0.5

    def __init__(self, expires_wall: float, fan_out_done_wall: float) -> None:
        self.expires_wall = expires_wall
        self.fan_out_done_wall = fan_out_done_wall
        self.in_time = self.late = self.borderline = self.never_connected = 0
        self.latency: list[float] = []
        self.during_fan_out: list[float] = []
        self.after_fan_out: list[float] = []
        self.wrong: dict[str, int] = {}

    def fault(self, kind: str) -> None:
        self.wrong[kind] = self.wrong.get(kind, 0) + 1

    def add(self, got: list[float], status: str | None, at: float | None) -> None:
        """One agent: the frames it got, its row's status, when it was welcomed (None: never)."""
        if at is None:
            self.never_connected += 1
            if status != "expired":
                self.fault("never_connected_not_expired")
        elif abs(at - self.expires_wall) < self.MARGIN_S:
            self.borderline += 1
            if not (len(got) == 1 and status == "succeeded") and not (not got and status == "expired"):
                self.fault("borderline_inconsistent")
        elif at < self.expires_wall:
            self._in_time(got, status, at)
        else:
            self.late += 1
            if got:
                self.fault("late_received")
            if status != "expired":
                self.fault(f"late_{status}")

    def _in_time(self, got: list[float], status: str | None, at: float) -> None:
        self.in_time += 1
        if len(got) != 1:
            self.fault(f"in_time_received_{len(got)}")
        if status != "succeeded":
            self.fault(f"in_time_{status}")
        if got:
            self.latency.append(min(got) - at)
            # connected while the fan-out to the online agents was still going out, or after
            late_enough = at > self.fan_out_done_wall
            (self.after_fan_out if late_enough else self.during_fan_out).append(min(got) - at)


async def cmd_b5(args: argparse.Namespace) -> None:
    for run in range(1, args.runs + 1):
        await _b5_once(args, run)


# --------------------------------------------------------------------------- CLI


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="fleet, homes and logs")
    parser.add_argument("--port", type=int, default=5810)
    sub = parser.add_subparsers(dest="scenario", required=True)

    enroll = sub.add_parser("enroll", help="enroll simulated agents until the fleet holds --agents")
    enroll.add_argument("--agents", type=int, required=True)
    enroll.add_argument("--concurrency", type=int, default=32)

    for name, heartbeat, hold, help_text in (
        ("b1", 30.0, 120.0, "idle hold at a 30 s heartbeat"),
        ("b15", 10.0, 150.0, "heartbeat cost at a 10 s heartbeat"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--agents", type=int, required=True)
        p.add_argument(
            "--hold", "--window", dest="hold", type=float, default=hold, help="measurement window, s"
        )
        p.add_argument("--heartbeat", type=float, default=heartbeat)
        p.add_argument("--settle", type=float, default=heartbeat + 5, help="after the ramp, before measuring")
        p.add_argument("--connect-timeout", type=float, default=300.0)
        p.add_argument("--flush-s", type=float, default=120.0, help="server last_seen_flush_s")
        p.add_argument("--generators", type=int, default=None, help="generator processes (default: N/9500)")
        p.add_argument("--runs", type=int, default=1)
        p.add_argument(
            "--profile", type=Path, default=None, help="run the server under cProfile, stats to FILE"
        )

    b6 = sub.add_parser("b6", help="reconnect storm: kill -9 the server and restart it")
    b6.add_argument("--agents", type=int, required=True)
    b6.add_argument("--settle", type=float, default=5.0)
    b6.add_argument("--connect-timeout", type=float, default=300.0)
    b6.add_argument("--timeout", type=float, default=180.0, help="give up waiting for everyone after this")
    b6.add_argument("--runs", type=int, default=1)

    b7 = sub.add_parser("b7", help="the real agent's idle footprint")
    b7.add_argument("--settle", type=float, default=600.0, help="seconds after start before measuring")
    b7.add_argument("--window", type=float, default=120.0, help="measurement window after the settle")
    b7.add_argument("--heartbeat", type=float, default=30.0)

    b4 = sub.add_parser("b4", help="fan-out: one no-op job to all N connected agents")
    b4.add_argument("--agents", type=int, required=True)
    b4.add_argument("--settle", type=float, default=3.0)
    b4.add_argument("--connect-timeout", type=float, default=300.0)
    b4.add_argument("--timeout", type=float, default=120.0, help="give up waiting for results after this")
    b4.add_argument("--runs", type=int, default=1)
    b4.add_argument("--repeat", type=int, default=1, help="fan-outs per run, on one connected fleet")
    b4.add_argument("--profile", type=Path, default=None, help="run the server under cProfile, stats to FILE")

    b3 = sub.add_parser("b3", help="dispatch latency: single-agent no-op jobs at a steady rate")
    b3.add_argument("--agents", type=int, required=True)
    b3.add_argument("--jobs", type=int, default=200)
    b3.add_argument("--rate", type=float, default=50.0, help="jobs submitted per second")
    b3.add_argument("--settle", type=float, default=3.0)
    b3.add_argument("--connect-timeout", type=float, default=300.0)
    b3.add_argument("--runs", type=int, default=1)
    b3.add_argument("--profile", type=Path, default=None, help="run the server under cProfile, stats to FILE")

    b5 = sub.add_parser("b5", help="fan-out with a share of the targets offline, connecting over minutes")
    b5.add_argument("--agents", type=int, required=True)
    b5.add_argument("--offline-pct", type=float, default=5.0)
    b5.add_argument("--spread", type=float, default=120.0, help="offline agents connect within this many s")
    b5.add_argument("--expires", type=float, default=60.0, help="the job's expires_in_s")
    b5.add_argument("--settle", type=float, default=3.0)
    b5.add_argument("--connect-timeout", type=float, default=300.0)
    b5.add_argument("--runs", type=int, default=1)

    args = parser.parse_args()
    if args.scenario == "enroll":
        figures = Fleet(args.state, args.port).ensure(args.agents, args.concurrency)
        emit({"scenario": "enroll", "agents": args.agents, "figures": figures})
    elif args.scenario in ("b1", "b15"):
        asyncio.run(cmd_steady(args, args.scenario))
    elif args.scenario == "b6":
        asyncio.run(cmd_b6(args))
    elif args.scenario == "b4":
        asyncio.run(cmd_b4(args))
    elif args.scenario == "b3":
        asyncio.run(cmd_b3(args))
    elif args.scenario == "b5":
        asyncio.run(cmd_b5(args))
    else:
        asyncio.run(cmd_b7(args))


if __name__ == "__main__":
    main()
