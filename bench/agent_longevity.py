"""Agent longevity benchmarks B8 ("simulated week") and B9 ("server unreachable for a simulated day").

Both run the REAL agent (`python -m borealis agent run --home H`: supervisor + worker) against a real
server (`python -m borealis server`), with a small TCP proxy in this process between the two: the
agent's `server_url` points at the proxy, which forwards to the server, and can cut every connection
(the agent sees the socket reset and goes through its reconnect path), refuse connections (listener
closed: ECONNREFUSED), reset them at once after accepting, or hold them open without answering (the
agent's handshake times out).

  python bench/agent_longevity.py b8 --scale 0.05      # smoke, ~5 min
  python bench/agent_longevity.py b8                   # full: 20,160 heartbeats at 0.2 s, ~70 min
  python bench/agent_longevity.py b9 --attempts 150    # smoke, ~3 min
  python bench/agent_longevity.py b9                   # full: 1,000 failed connection attempts

Each run prints one JSON line on stdout; progress goes to stderr. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PY, REPO, MiB, Server, emit, log, machine, run_cli

from borealis.core.home import Home
from borealis.core.settings import update_toml
from borealis.protocol.jobs import MAX_TAIL_BYTES

INVENTORY_ROLE = REPO / "src" / "borealis" / "agent" / "roles" / "inventory.py"
B9_INVENTORY_EVERY_S = {
    **dict.fromkeys(("system", "cpu", "memory", "disks", "network", "users", "processes"), 10.0),
    "services": 30.0,
    "software": 60.0,
    "updates": 0.0,  # not scheduled: apt is slow and this machine is shared
}
FINAL = frozenset({"succeeded", "failed", "timed_out", "cancelled", "expired", "interrupted"})
INVENTORY_SENT = 'msg="inventory sent"'
CONNECTING = "msg=connecting "  # one per connection attempt in agent.log
LINE = b"borealis longevity bench: one line of job output, 64 bytes long\n"
assert len(LINE) == 64


# --------------------------------------------------------------------------- the proxy


@dataclass(eq=False)
class _Pair:
    down: asyncio.StreamWriter  # the agent's side
    up: asyncio.StreamWriter  # the server's side
    opened: float = field(default_factory=time.monotonic)


class Proxy:
    """A loopback TCP proxy that can cut, refuse, reset or black-hole the agent's connections."""

    def __init__(self, port: int, upstream_port: int) -> None:
        self.port = port
        self.upstream_port = upstream_port
        self.mode = "forward"  # forward | reset | blackhole (refuse = listener closed)
        self.accepted = 0
        self.forwarded = 0
        self.cuts = 0
        self.pairs: set[_Pair] = set()
        self._held: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

    async def refuse(self) -> None:
        """Close the listener: new connections are refused by the kernel."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def cut(self) -> int:
        """Abort every proxied connection on both sides (RST); returns how many were cut."""
        pairs, self.pairs = list(self.pairs), set()
        for pair in pairs:
            pair.down.transport.abort()
            pair.up.transport.abort()
        for held in list(self._held):
            held.transport.abort()
        self._held.clear()
        self.cuts += 1 if pairs else 0
        return len(pairs)

    def oldest_age(self) -> float:
        return max((time.monotonic() - p.opened for p in self.pairs), default=-1.0)

    async def close(self) -> None:
        await self.refuse()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if self.mode == "blackhole":
            self._held.add(writer)
            with contextlib.suppress(OSError, ConnectionError):
                while await reader.read(65536):
                    pass
            self._held.discard(writer)
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self.forwarded += 1
        pair = _Pair(writer, up_writer)
        self.pairs.add(pair)
        a = asyncio.create_task(self._pump(reader, up_writer))
        b = asyncio.create_task(self._pump(up_reader, writer))
        self._tasks.update((a, b))
        try:
            await asyncio.wait({a, b}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.pairs.discard(pair)
            for writer_ in (writer, up_writer):
                writer_.close()
            await asyncio.gather(a, b, return_exceptions=True)
            self._tasks.difference_update((a, b))

    @staticmethod
    async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()


# --------------------------------------------------------------------------- probes


def vm_hwm(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def fd_targets(pid: int) -> list[str]:
    out = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(entry.path)
                # socket:[12345] / pipe:[678] differ per object; keep the kind for the comparison
                out.append(target.split(":[")[0] if ":[" in target else target)
    return sorted(out)


def snapshot(pid: int) -> dict[str, Any]:
    proc = psutil.Process(pid)
    with proc.oneshot():
        full = proc.memory_full_info()
        cpu = proc.cpu_times()
        return {
            "pid": pid,
            "rss_mib": round(full.rss / MiB, 2),
            "uss_mib": round(full.uss / MiB, 2),
            "hwm_mib": round((vm_hwm(pid) or 0) / MiB, 2),
            "fds": proc.num_fds(),
            "threads": proc.num_threads(),
            "cpu_s": round(cpu.user + cpu.system, 2),
        }


def fd_diff(before: list[str], after: list[str]) -> dict[str, list[str]]:
    added, removed = list(after), []
    for item in before:
        if item in added:
            added.remove(item)
        else:
            removed.append(item)
    return {"added": added, "removed": removed}


# --------------------------------------------------------------------------- the rig


class Rig:
    """A server, the proxy in front of it, and one enrolled real agent pointed at the proxy."""

    def __init__(
        self, root: Path, port: int, server_settings: dict[str, Any], agent_settings: dict[str, Any]
    ):
        self.root = root
        self.server = Server(root / "server", port, server_settings)
        self.proxy = Proxy(port + 1, port)
        self.agent_home = root / "agent"
        self.agent_settings = agent_settings
        self.supervisor: subprocess.Popen[bytes] | None = None
        self.agent_id = ""
        self.token = ""
        self.api: httpx.AsyncClient | None = None
        self.env: dict[str, str] = {}  # extra environment for the agent (e.g. MALLOC_ARENA_MAX)

    async def start(self) -> None:
        self.server.write_config()
        code = run_cli("admin", "create-enrollment", "--uses", "1", "--expires", "1h", home=self.server.home)
        scopes = ("jobs:run", "jobs:read", "agents:read", "metrics:read")
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        self.token = run_cli("admin", "create-token", "--name", "longevity", *args, home=self.server.home)
        await asyncio.to_thread(self.server.start)
        self.agent_id = (
            await asyncio.to_thread(run_cli, "agent", "enroll", "--code", code, home=self.agent_home)
        ).splitlines()[-1]
        update_toml(Home(self.agent_home).agent_toml, server_url=self.proxy.url, **self.agent_settings)
        await self.proxy.listen()
        self.api = httpx.AsyncClient(
            base_url=self.server.url, headers={"authorization": f"Bearer {self.token}"}, timeout=60
        )
        out = (self.root / "agent-run.out").open("ab")
        self.supervisor = subprocess.Popen(
            [PY, "-m", "borealis", "agent", "run", "--home", str(self.agent_home), "--no-startup-delay"],
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()

    async def stop(self) -> None:
        if self.supervisor is not None and self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.supervisor.wait, 30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.supervisor.pid, signal.SIGKILL)
                self.supervisor.wait(10)
        await self.proxy.close()
        if self.api is not None:
            await self.api.aclose()
        await asyncio.to_thread(self.server.stop)

    @property
    def supervisor_pid(self) -> int:
        assert self.supervisor is not None
        return self.supervisor.pid

    def worker_pid(self) -> int | None:
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(self.supervisor_pid).children()
            pythons = [c for c in children if "borealis.agent.worker" in " ".join(c.cmdline())]
            return pythons[0].pid if pythons else None
        return None

    def status(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(run_cli("agent", "status", "--json", home=self.agent_home))
        return loaded

    async def online(self) -> bool:
        assert self.api is not None
        response = await self.api.get(f"/api/v1/agents/{self.agent_id}")
        return response.status_code == 200 and response.json()["status"] == "online"

    async def wait_online(self, timeout: float = 60.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.worker_pid() is not None and await self.online():
                return time.monotonic() - started
            if self.supervisor is not None and self.supervisor.poll() is not None:
                raise RuntimeError(f"the agent exited; see {self.root}/agent-run.out")
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the agent did not come online within {timeout:g} s")

    async def heartbeats(self) -> int:
        assert self.api is not None
        response = await self.api.get("/metrics")
        response.raise_for_status()
        for line in response.text.splitlines():
            if line.startswith("borealis_heartbeats_total "):
                return int(float(line.split()[1]))
        raise RuntimeError("no borealis_heartbeats_total in /metrics")

    async def submit(self, role: str, params: dict[str, Any], timeout_s: float = 300.0) -> str:
        assert self.api is not None
        body = {
            "role": role,
            "params": params,
            "target": {"agents": [self.agent_id]},
            "timeout_s": timeout_s,
            "expires_in_s": 6 * 3600.0,
        }
        response = await self.api.post("/api/v1/jobs", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"POST /api/v1/jobs: {response.status_code} {response.text[:300]}")
        return str(response.json()["id"])

    def rows(self, job_ids: list[str] | None = None) -> dict[str, tuple[str, int | None, int]]:
        """job_id -> (status, exit_code, stored stdout bytes), read from the server's SQLite (read-only)."""
        uri = f"file:{self.server.db}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
            rows = db.execute(
                "SELECT job_id, status, exit_code, LENGTH(CAST(stdout AS BLOB)) FROM job_results WHERE agent_id = ?",
                (self.agent_id,),
            ).fetchall()
        wanted = None if job_ids is None else set(job_ids)
        return {r[0]: (r[1], r[2], r[3] or 0) for r in rows if wanted is None or r[0] in wanted}

    async def wait_final(self, job_ids: list[str], timeout: float) -> dict[str, tuple[str, int | None, int]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = await asyncio.to_thread(self.rows, job_ids)
            if all(rows.get(j, ("",))[0] in FINAL for j in job_ids) or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(1.0)

    def agent_log_count(self, needle: str) -> int:
        total = 0
        for path in Home(self.agent_home).agent_logs.glob("agent.log*"):
            with contextlib.suppress(OSError), path.open("rb") as handle:
                total += sum(1 for line in handle if needle.encode() in line)
        return total


def sized_script(size: int, exit_code: int) -> str:
    """bash that writes exactly `size` bytes of 64-byte lines to stdout, one line to stderr, and exits."""
    line = LINE.decode().rstrip("\n")
    return f"yes '{line}' | head -c {size}\necho 'bench stderr line' >&2\nexit {exit_code}\n"


def log_uniform_sizes(n: int, low: int, high: int, rng: random.Random) -> list[int]:
    sizes = [int(math.exp(rng.uniform(math.log(low), math.log(high)))) for _ in range(n)]
    if n >= 2:
        sizes[0], sizes[1] = high, low
    return sizes


def check_rows(
    expected: dict[str, tuple[int, int]], rows: dict[str, tuple[str, int | None, int]]
) -> dict[str, Any]:
    """expected: job_id -> (exit code, stdout bytes)."""
    by_status: dict[str, int] = {}
    wrong: list[dict[str, Any]] = []
    lost = right = short_stdout = 0
    for job_id, (code, size) in expected.items():
        row = rows.get(job_id)
        if row is None or row[0] not in FINAL:
            lost += 1
            by_status[row[0] if row else "missing"] = by_status.get(row[0] if row else "missing", 0) + 1
            continue
        status, got, stored = row
        by_status[status] = by_status.get(status, 0) + 1
        want = "succeeded" if code == 0 else "failed"
        if status == want and got == code:
            right += 1
        elif len(wrong) < 5:
            wrong.append({"job_id": job_id, "status": status, "exit_code": got, "want": code})
        if stored < min(size, MAX_TAIL_BYTES):  # the result carries the last 64 KiB; the server keeps that
            short_stdout += 1
    return {
        "submitted": len(expected),
        "final": len(expected) - lost,
        "right_status_and_exit_code": right,
        "not_final": lost,
        "by_status": by_status,
        "wrong_examples": wrong,
        "stdout_tail_stored_incomplete": short_stdout,
    }


def _common(name: str, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "scenario": name,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "commit": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
        "argv": sys.argv[1:],
    }


def _processes(rig: Rig) -> dict[str, Any]:
    worker = rig.worker_pid()
    if worker is None:
        raise RuntimeError("no worker process")
    return {
        "supervisor": snapshot(rig.supervisor_pid),
        "worker": snapshot(worker),
        "worker_fd_kinds": fd_targets(worker),
        "supervisor_fd_kinds": fd_targets(rig.supervisor_pid),
    }


def _compare(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("supervisor", "worker"):
        s, e = start[name], end[name]
        out[name] = {
            "same_pid": s["pid"] == e["pid"],
            "rss_start_mib": s["rss_mib"],
            "rss_end_mib": e["rss_mib"],
            "rss_growth_mib": round(e["rss_mib"] - s["rss_mib"], 2),
            "uss_start_mib": s["uss_mib"],
            "uss_end_mib": e["uss_mib"],
            "hwm_end_mib": e["hwm_mib"],
            "fds_start": s["fds"],
            "fds_end": e["fds"],
            "threads_start": s["threads"],
            "threads_end": e["threads"],
            "cpu_s_between": round(e["cpu_s"] - s["cpu_s"], 2),
            "fd_diff": fd_diff(start[f"{name}_fd_kinds"], end[f"{name}_fd_kinds"]),
        }
    return out


# --------------------------------------------------------------------------- B8


async def cmd_b8(args: argparse.Namespace) -> None:
    scale = args.scale
    n_hb = args.heartbeats or round(20_160 * scale)
    n_jobs = args.jobs or round(2_000 * scale)
    n_cuts = args.reconnects or max(2, round(200 * scale))
    inventory = INVENTORY_ROLE.exists()
    n_inv = 7 if inventory else 0
    rng = random.Random(args.seed)
    sizes = log_uniform_sizes(n_jobs, 1024, 1024 * 1024, rng)
    record = _common("b8", args) | {
        "heartbeat_s": args.heartbeat,
        "target_heartbeats": n_hb,
        "target_jobs": n_jobs,
        "target_reconnects": n_cuts,
        "inventory_role_present": inventory,
        "stdout_bytes_total": sum(sizes),
        "reconnects_by": "cutting every proxied TCP connection (RST on both sides) in a loopback proxy",
    }
    root = Path(tempfile.mkdtemp(prefix="borealis-b8-", dir=args.tmp))
    rig = Rig(
        root,
        args.port,
        {"heartbeat_s": args.heartbeat},
        # The scheduled first inventory comes in the warm-up, so its one-time cost (a thread per
        # section) is in the baseline; after that the default schedule (every 15 min and more).
        {"backoff_base_s": 0.5, "backoff_cap_s": 2.0, "stable_after_s": 5.0, "inventory_first_after_s": 4.0},
    )
    deadline = time.monotonic() + args.max_seconds
    if args.malloc_arena_max:
        rig.env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
        record["agent_env"] = dict(rig.env)
    try:
        await rig.start()
        record["online_after_s"] = round(await rig.wait_online(), 2)
        log(f"b8: agent {rig.agent_id} online; warm-up (root {root})")
        # Warm-up: every size class and exit code, 16 at once, a cut in the middle, and (if present)
        # one inventory; then let it settle before the baseline.
        warm_sizes = [1024, 4096, 65536, 262144, 1024 * 1024] * 4
        warm_ids = [
            await rig.submit("script", {"language": "bash", "script": sized_script(s, i % 4)})
            for i, s in enumerate(warm_sizes)
        ]
        await asyncio.sleep(1.0)
        rig.proxy.cut()
        if inventory:
            warm_ids.append(await rig.submit("inventory", {}))
        await rig.wait_final(warm_ids, 120)
        await rig.wait_online()
        await asyncio.sleep(args.settle)
        start = _processes(rig)
        record["warmup_jobs"] = len(warm_ids)
        log(f"b8: baseline worker {start['worker']}, supervisor {start['supervisor']}")

        hb0 = await rig.heartbeats()
        accepted0 = rig.proxy.forwarded
        t0 = time.monotonic()
        expected: dict[str, tuple[int, int]] = {}
        inv_ids: list[str] = []
        cuts = 0
        timeline: list[list[float]] = []
        next_sample = t0
        hb = 0
        while time.monotonic() < deadline:
            hb = await rig.heartbeats() - hb0
            frac = min(1.0, hb / n_hb)
            while len(expected) < math.ceil(frac * n_jobs):
                i = len(expected)
                job_id = await rig.submit(
                    "script", {"language": "bash", "script": sized_script(sizes[i], i % 4)}
                )
                expected[job_id] = (i % 4, sizes[i])
            while len(inv_ids) < math.ceil(frac * n_inv):
                inv_ids.append(await rig.submit("inventory", {}))
            if cuts < math.floor(frac * n_cuts) and rig.proxy.oldest_age() >= 1.0:
                rig.proxy.cut()
                cuts += 1
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + args.sample_every
                worker = rig.worker_pid()
                if worker is not None:
                    w, s = snapshot(worker), snapshot(rig.supervisor_pid)
                    timeline.append(
                        [
                            round(now - t0),
                            hb,
                            len(expected),
                            cuts,
                            w["rss_mib"],
                            w["fds"],
                            w["threads"],
                            s["rss_mib"],
                        ]
                    )
                    log(
                        f"b8: t={now - t0:.0f}s hb={hb}/{n_hb} jobs={len(expected)} cuts={cuts} worker rss={w['rss_mib']} fds={w['fds']} thr={w['threads']}"
                    )
            if hb >= n_hb and len(expected) >= n_jobs and cuts >= n_cuts and len(inv_ids) >= n_inv:
                break
            await asyncio.sleep(0.5)
        record["run_s"] = round(time.monotonic() - t0, 1)
        record["heartbeats"] = hb
        record["reconnects"] = {
            "cuts": cuts,
            "agent_connections_after_baseline": rig.proxy.forwarded - accepted0,
        }
        log("b8: draining: waiting for every job to be final")
        rows = await rig.wait_final(list(expected) + inv_ids, args.drain_timeout)
        await rig.wait_online()
        record["reconnects"] = {
            "cuts": cuts,
            "agent_connections_after_baseline": rig.proxy.forwarded - accepted0,
        }
        await _status_when_zero(rig, "outbox_pending")  # the worker refreshes its counts every 10 s
        await asyncio.sleep(args.settle)
        end = _processes(rig)
        status = await asyncio.to_thread(rig.status)
        record["jobs"] = check_rows(expected, rows)
        record["inventories"] = (
            {"submitted": len(inv_ids), "by_status": _count(rows.get(j, ("missing",))[0] for j in inv_ids)}
            if inventory
            else "not run: src/borealis/agent/roles/inventory.py did not exist"
        )
        record["agent_status"] = {
            k: status.get(k)
            for k in ("restarts", "outbox_pending", "outbox_dropped", "jobs_running", "state")
        }
        record["compare"] = _compare(start, end)
        record["timeline_cols"] = [
            "t_s",
            "heartbeats",
            "jobs_submitted",
            "cuts",
            "worker_rss_mib",
            "worker_fds",
            "worker_threads",
            "supervisor_rss_mib",
        ]
        record["timeline"] = timeline
        w, s = record["compare"]["worker"], record["compare"]["supervisor"]
        jobs = record["jobs"]
        record["targets"] = {
            "all_heartbeats": hb >= n_hb,
            "all_reconnects": cuts >= n_cuts,
            "no_job_lost_right_exit_codes": jobs["right_status_and_exit_code"] == n_jobs,
            "worker_rss<=start+5MiB": w["same_pid"] and w["rss_growth_mib"] <= 5,
            "supervisor_rss<=start+5MiB": s["rss_growth_mib"] <= 5,
            "fds_back_to_baseline": w["fds_end"] <= w["fds_start"] and s["fds_end"] <= s["fds_start"],
            "threads_back_to_baseline": w["threads_end"] <= w["threads_start"]
            and s["threads_end"] <= s["threads_start"],
            "stretch_worker_rss<=start+2MiB": w["same_pid"] and w["rss_growth_mib"] <= 2,
        }
    finally:
        await rig.stop()
        if args.keep:
            log(f"b8: kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    emit(record)


async def _status_when_zero(rig: Rig, key: str, tries: int = 60) -> dict[str, Any]:
    """The agent's status, read once a second until its `key` is 0 or `tries` ran out; the last read."""
    status: dict[str, Any] = {}
    for _ in range(tries):
        status = await asyncio.to_thread(rig.status)
        if status[key] == 0:
            break
        await asyncio.sleep(1.0)
    return status


async def _running(rig: Rig, job_ids: list[str], timeout: float) -> int:
    """How many of the jobs are running, read until all are or `timeout` seconds passed."""
    started = time.monotonic()
    running = 0
    while time.monotonic() - started < timeout:
        rows = await asyncio.to_thread(rig.rows, job_ids)
        running = sum(1 for r in rows.values() if r[0] == "running")
        if running == len(job_ids):
            break
        await asyncio.sleep(0.2)
    return running


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


# --------------------------------------------------------------------------- B9


async def cmd_b9(args: argparse.Namespace) -> None:
    inventory = INVENTORY_ROLE.exists()
    record = _common("b9", args) | {
        "attempts_target": args.attempts,
        "backoff": {"base_s": args.backoff_base, "cap_s": args.backoff_cap},
        "outbox_max_messages": args.outbox_max,
        "jobs_before_outage": args.jobs,
        "inventory_role_present": inventory,
        "inventory_schedule": inventory and not args.no_inventory,
    }
    root = Path(tempfile.mkdtemp(prefix="borealis-b9-", dir=args.tmp))
    rig = Rig(
        root,
        args.port + 10,
        {"heartbeat_s": 5.0},
        {
            "backoff_base_s": args.backoff_base,
            "backoff_cap_s": args.backoff_cap,
            "stable_after_s": 5.0,
            "max_jobs": max(16, args.jobs + 8),
            "outbox_max_messages": args.outbox_max,
            # The inventory service keeps sending during the outage: frames pile up in the outbox.
            "inventory_enabled": not args.no_inventory,
            "inventory_first_after_s": 2.0,
            "inventory_every_s": B9_INVENTORY_EVERY_S,
            "inventory_resend_after_s": 20.0,
        },
    )
    if args.malloc_arena_max:
        rig.env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
        record["agent_env"] = dict(rig.env)
    try:
        await rig.start()
        await rig.wait_online()
        log(f"b9: agent {rig.agent_id} online; warm-up")
        warm = [
            await rig.submit("script", {"language": "bash", "script": sized_script(65536, i % 2)})
            for i in range(8)
        ]
        await rig.wait_final(warm, 60)
        await asyncio.sleep(args.settle)
        before = _processes(rig)
        # Jobs that finish after the server is gone: their results pile up in the outbox.
        expected: dict[str, tuple[int, int]] = {}
        for i in range(args.jobs):
            delay = 20.0 + 10.0 * i / max(1, args.jobs - 1)  # longer than submitting them all takes
            script = f"sleep {delay:.2f}\n" + sized_script(16384, i % 3)
            expected[await rig.submit("script", {"language": "bash", "script": script})] = (i % 3, 16384)
        running = await _running(rig, list(expected), 60)
        if running != len(expected):
            raise RuntimeError(f"only {running} of {len(expected)} jobs were running before the outage")
        await asyncio.sleep(1.0)  # the acks for job.accepted reach the outbox
        log("b9: every job running; the server becomes unreachable (refused)")
        outage_at = time.monotonic()
        await rig.proxy.refuse()
        rig.proxy.cut()
        samples: list[list[float]] = []
        pending_max = 0
        deadline = time.monotonic() + args.max_seconds
        modes = ("refuse", "reset", "blackhole")

        async def phase(mode: str, count: int) -> dict[str, int]:
            """Fail `count` connection attempts in `mode`; the attempts seen (agent log, proxy)."""
            nonlocal pending_max
            base, accepted0 = rig.agent_log_count(CONNECTING), rig.proxy.accepted
            if mode == "refuse":
                await rig.proxy.refuse()
            else:
                rig.proxy.mode = mode
                await rig.proxy.listen()
            t_phase = time.monotonic()
            while time.monotonic() < deadline:
                done = rig.agent_log_count(CONNECTING) - base
                if done >= count:
                    break
                if time.monotonic() - t_phase > 5:
                    w = snapshot(rig.worker_pid() or rig.supervisor_pid)
                    st = await asyncio.to_thread(rig.status)
                    pending_max = max(pending_max, st["outbox_pending"])
                    at = round(time.monotonic() - outage_at)
                    samples.append(
                        [
                            at,
                            modes.index(mode),
                            done,
                            w["rss_mib"],
                            w["fds"],
                            w["threads"],
                            st["outbox_pending"],
                        ]
                    )
                await asyncio.sleep(2.0)
            await rig.proxy.refuse()
            rig.proxy.cut()
            seen = {mode: rig.agent_log_count(CONNECTING) - base}
            if mode != "refuse":
                seen[mode + "_seen_by_proxy"] = rig.proxy.accepted - accepted0
            log(f"b9: {mode}: {seen}")
            return seen

        # Wait for the jobs to finish into the outbox; meanwhile each failure mode once (warm-up: the
        # first time through a code path allocates for good), then the baseline.
        warm_attempts: dict[str, int] = {}
        for mode, count in (("refuse", 20), ("reset", 20), ("blackhole", 1)):
            warm_attempts |= await phase(mode, count)
        await _status_when_zero(rig, "jobs_running")
        await asyncio.sleep(args.settle)
        samples.clear()
        start = _processes(rig)
        status_start = await asyncio.to_thread(rig.status)
        pending_max = status_start["outbox_pending"]
        inventory_sends0 = rig.agent_log_count(INVENTORY_SENT)
        outbox_file = rig.agent_home / "Agent" / "outbox.db"
        log(
            f"b9: baseline in the outage: worker {start['worker']}; outbox {status_start['outbox_pending']} pending, {status_start['outbox_dropped']} dropped"
        )
        attempts: dict[str, int] = {}
        attempts |= await phase("refuse", args.attempts // 2)
        attempts |= await phase("reset", args.attempts - args.attempts // 2 - args.blackhole)
        attempts |= await phase("blackhole", args.blackhole)
        await rig.proxy.refuse()
        await asyncio.sleep(args.settle)
        end = _processes(rig)
        status_end = await asyncio.to_thread(rig.status)
        outage_s = time.monotonic() - outage_at
        outbox_bytes = sum(p.stat().st_size for p in outbox_file.parent.glob("outbox.db*"))
        # Back online: what the outbox kept reaches the server; what it dropped was counted.
        rig.proxy.mode = "forward"
        await rig.proxy.listen()
        back = await rig.wait_online(120)
        drained = await _status_when_zero(rig, "outbox_pending")  # every kept message acknowledged …
        await asyncio.sleep(2.0)
        rows = await asyncio.to_thread(rig.rows, list(expected))  # … so the kept results are stored
        stored = check_rows(expected, rows)
        record |= {
            "outage_s": round(outage_s, 1),
            "attempts": attempts,
            "warmup_attempts_before_baseline": warm_attempts,
            "compare_outage": _compare(start, end),
            "rss_before_outage": {
                "worker": before["worker"]["rss_mib"],
                "supervisor": before["supervisor"]["rss_mib"],
            },
            "outbox": {
                "pending_at_start_of_outage": status_start["outbox_pending"],
                "dropped_at_start_of_outage": status_start["outbox_dropped"],
                "pending_max_seen": pending_max,
                "pending_end": status_end["outbox_pending"],
                "dropped_end": status_end["outbox_dropped"],
                "files_bytes_end": outbox_bytes,
                "after_reconnect": {k: drained.get(k) for k in ("outbox_pending", "outbox_dropped")},
            },
            "back_online_after_s": round(back, 2),
            "jobs": stored,
            "agent_restarts": status_end.get("restarts"),
            "inventory_every_s": B9_INVENTORY_EVERY_S if inventory and not args.no_inventory else None,
            "inventory_sends_in_outage": rig.agent_log_count(INVENTORY_SENT) - inventory_sends0,
            "samples_cols": [
                "t_s",
                "phase(0=refuse,1=reset,2=blackhole)",
                "attempts_in_phase",
                "worker_rss_mib",
                "worker_fds",
                "worker_threads",
                "outbox_pending",
            ],
            "samples": samples[:: max(1, len(samples) // 40)],
        }
        w = record["compare_outage"]["worker"]
        kept = stored["right_status_and_exit_code"]
        record["targets"] = {
            "worker_rss_growth<=1MiB": w["same_pid"] and w["rss_growth_mib"] <= 1,
            "supervisor_rss_growth<=1MiB": record["compare_outage"]["supervisor"]["rss_growth_mib"] <= 1,
            "outbox_bounded": pending_max <= args.outbox_max
            and status_end["outbox_pending"] <= args.outbox_max,
            # Results go last: exactly the ones that did not fit are lost, and each drop is counted.
            "results_lost_only_beyond_the_bound": stored["not_final"] == max(0, args.jobs - args.outbox_max),
            "drops_counted": status_end["outbox_dropped"] >= stored["not_final"]
            and kept == len(expected) - stored["not_final"],
            "fds_threads_back": w["fds_end"] <= w["fds_start"] and w["threads_end"] <= w["threads_start"],
        }
    finally:
        await rig.stop()
        if args.keep:
            log(f"b9: kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    emit(record)


# --------------------------------------------------------------------------- command line


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port", type=int, default=5840, help="server port (proxy: port+1; B9 uses port+10, +11)"
    )
    parser.add_argument("--tmp", default=None, help="parent of the run's temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, databases)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--malloc-arena-max", type=int, default=0, help="run the agent with MALLOC_ARENA_MAX=N (glibc)"
    )
    parser.add_argument("--settle", type=float, default=15.0, help="seconds of quiet before each measurement")
    sub = parser.add_subparsers(dest="scenario", required=True)
    b8 = sub.add_parser("b8", help="simulated week")
    b8.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (smoke: 0.05)")
    b8.add_argument(
        "--heartbeat", type=float, default=0.2, help="server heartbeat_s (the agent's floor is 0.2)"
    )
    b8.add_argument("--heartbeats", type=int, default=0)
    b8.add_argument("--jobs", type=int, default=0)
    b8.add_argument("--reconnects", type=int, default=0)
    b8.add_argument("--sample-every", type=float, default=60.0)
    b8.add_argument("--drain-timeout", type=float, default=600.0)
    b8.add_argument("--max-seconds", type=float, default=2 * 3600.0, help="hard stop of the main loop")
    b9 = sub.add_parser("b9", help="server unreachable for a simulated day")
    b9.add_argument("--attempts", type=int, default=1000, help="failed connection attempts in the outage")
    b9.add_argument("--blackhole", type=int, default=12, help="of which handshakes that time out (10 s each)")
    b9.add_argument("--backoff-base", type=float, default=0.01)
    b9.add_argument("--backoff-cap", type=float, default=0.5)
    b9.add_argument("--jobs", type=int, default=48, help="jobs that finish during the outage")
    b9.add_argument("--outbox-max", type=int, default=32, help="the agent's outbox_max_messages")
    b9.add_argument("--max-seconds", type=float, default=3600.0)
    b9.add_argument("--no-inventory", action="store_true", help="inventory_enabled = false (a control run)")
    args = parser.parse_args()
    asyncio.run(cmd_b8(args) if args.scenario == "b8" else cmd_b9(args))


if __name__ == "__main__":
    main()
