"""B13 inventory ingest: N simulated agents each upload one ~32 KiB `inventory` frame within a window.

    .venv/bin/python bench/inventory_ingest.py run --agents 1000 --spread 10       # smoke, ~1 min
    .venv/bin/python bench/inventory_ingest.py run --agents 10000 --spread 60      # the scenario

`run` keeps its own fleet (state `/tmp/borealis-bench-inventory`, port 5893; the identities are enrolled
once, like bench/scenarios.py), empties the inventory tables of that fleet's SQLite database so every
upload is a first one (the full write, not the unchanged case), starts the server, connects every
agent through `gen` processes (≤ 9,500 each, on 127.0.0.2, .3, …), and then each agent sends its frame
at a random moment of the `--spread` window and waits for the server's ack, which the server sends
only after the commit. Meanwhile it samples the server's RSS and CPU and times `GET /api/v1/agents`
every 0.2 s. Prints one JSON line: seconds from the window's start until the last ack (every upload
stored), per-upload send → ack latency, RSS before and peak, the API probe's latency, server CPU.
Loopback only; every wait has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PER_GENERATOR, PY, Fleet, emit, log, machine
from simagents import _raise_nofile, load_fleet, private_from_b64, summary
from websockets.asyncio.client import ClientConnection, connect

from borealis.protocol import PROTOCOL_VERSION, keys
from borealis.protocol.inventory import pack_data, section_hash
from borealis.protocol.messages import hello_payload

DEFAULT_STATE = Path("/tmp/borealis-bench-inventory")
THIS = str(Path(__file__).resolve())
MiB = 1024 * 1024
INVENTORY_TABLES = ("inventory_items", "inventory_changes", "inventory_sections")


# --------------------------------------------------------------------------- the payload


def inventory_of(agent_id: str, rng: random.Random) -> dict[str, Any]:
    """About 32 KiB of sections shaped like the agent's: 200 packages, 60 processes, 40 services…"""
    software = [
        {
            "name": f"lib{name}{i}",
            "version": f"{rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}-{rng.randint(1, 9)}ubuntu1",
            "arch": "amd64",
            "source": "dpkg",
        }
        for i, name in enumerate(["ssl", "curl", "xml", "z", "gnutls", "krb", "pam", "ncurses"] * 25)
    ]
    processes = [
        {
            "pid": 100 + i,
            "ppid": 1,
            "name": f"worker-{i % 12}",
            "user": "root" if i % 3 else "www-data",
            "cpu_pct": round(rng.random() * 5, 1),
            "rss_bytes": rng.randint(1, 400) * MiB,
            "cmdline": [f"/usr/sbin/worker-{i % 12}", "--config", "/etc/worker.conf"],
        }
        for i in range(60)
    ]
    services = [{"name": f"svc-{i}.service", "state": "running", "start_mode": "enabled"} for i in range(40)]
    disks = [
        {
            "mountpoint": mount,
            "device": f"/dev/sda{i + 1}",
            "fstype": "ext4",
            "total_bytes": 100 * 1024**3,
            "used_bytes": (used := rng.randint(10, 99)) * 1024**3,
            "percent": float(used),
        }
        for i, mount in enumerate(["/", "/boot", "/var", "/home"])
    ]
    updates = [
        {
            "name": f"libssl{i}",
            "version": "3.0.2-0ubuntu1.16",
            "current_version": "3.0.2-0ubuntu1.12",
            "security": i % 2 == 0,
        }
        for i in range(8)
    ]
    return {
        "system": {
            "hostname": f"sim-{agent_id[:8]}",
            "os_name": "Ubuntu",
            "os_version": "22.04",
            "kernel": "5.15.0-91-generic",
        },
        "cpu": {"model": "Simulated CPU @ 2.4GHz", "cores": 4, "threads": 8},
        "memory": {"total_bytes": 16 * 1024**3, "available_bytes": rng.randint(1, 15) * 1024**3},
        "disks": disks,
        "network": [{"name": "eth0", "mac": "52:54:00:12:34:56", "addresses": ["10.0.0.5/24"]}],
        "users": [{"name": "admin", "terminal": "pts/0", "host": "10.0.0.1"}],
        "processes": processes,
        "services": services,
        "software": software,
        "updates": updates,
    }


def frame_of(agent_id: str, rng: random.Random) -> str:
    now = time.time()
    sections = {
        name: {
            "hash": section_hash(data),
            "collected_at": now,
            "duration_ms": 5,
            "error": None,
            **pack_data(data),
        }
        for name, data in inventory_of(agent_id, rng).items()
    }
    return orjson.dumps({"t": "inventory", "msg_id": f"inv-{agent_id}", "sections": sections}).decode()


# --------------------------------------------------------------------------- gen: one generator process


class Uploader:
    def __init__(self, agent_id: str, key: Any, url: str, source: str, rng: random.Random) -> None:
        self.agent_id, self.key, self.url, self.source, self.rng = agent_id, key, url, source, rng
        self.ws: ClientConnection | None = None
        self.latency_ms: float | None = None
        self.acked_at: float | None = None
        self.bytes = 0

    async def connect(self) -> None:
        self.ws = await connect(
            self.url,
            compression=None,
            ping_interval=None,
            open_timeout=30,
            max_size=MiB,
            local_addr=(self.source, 0),
        )
        challenge = orjson.loads(await self.ws.recv())
        hello = {
            "t": "hello",
            "agent_id": self.agent_id,
            "signature": keys.sign(self.key, hello_payload(challenge["nonce"], self.agent_id)),
            "version": "0.1.0-sim",
            "protocol": PROTOCOL_VERSION,
            "facts": {},
        }
        await self.ws.send(orjson.dumps(hello).decode())
        welcome = orjson.loads(await self.ws.recv())
        if welcome.get("t") != "welcome":
            raise RuntimeError(f"no welcome: {welcome}")

    async def upload(self, at: float, timeout: float) -> None:
        assert self.ws is not None
        await asyncio.sleep(max(0.0, at - time.time()))
        text = frame_of(self.agent_id, self.rng)
        self.bytes = len(text)
        sent = time.perf_counter()
        await self.ws.send(text)
        async with asyncio.timeout(timeout):
            while True:
                message = orjson.loads(await self.ws.recv())
                if message.get("t") == "ack":
                    break
        self.latency_ms = (time.perf_counter() - sent) * 1000
        self.acked_at = time.time()

    async def beat(self) -> None:
        """Heartbeats every 20 s so the server does not take a quiet agent for a dead one."""
        assert self.ws is not None
        seq = 0
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(
                    20 * self.rng.random() if seq == 0 else 20 * (0.9 + 0.2 * self.rng.random())
                )
                seq += 1
                await self.ws.send(
                    orjson.dumps({"t": "heartbeat", "seq": seq, "uptime_s": seq * 20}).decode()
                )


async def generate(args: argparse.Namespace) -> None:
    _raise_nofile()
    _, identities = load_fleet(Path(args.identities))
    chosen = identities[args.start : args.start + args.count]
    rng = random.Random(args.seed)
    agents = [
        Uploader(
            i["agent_id"], private_from_b64(i["key"]), args.url, args.source, random.Random(rng.random())
        )
        for i in chosen
    ]
    gate = asyncio.Semaphore(64)

    beats: list[asyncio.Task[None]] = []

    async def connect(agent: Uploader) -> None:
        async with gate:
            await agent.connect()
        beats.append(asyncio.create_task(agent.beat()))  # from its welcome on, or it is taken for dead

    await asyncio.gather(*(connect(agent) for agent in agents))
    emit({"ev": "connected", "n": len(agents)})
    t0 = float((await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip())
    uploads = [
        asyncio.create_task(agent.upload(t0 + rng.random() * args.spread, args.timeout)) for agent in agents
    ]
    failed = sum(
        1 for outcome in await asyncio.gather(*uploads, return_exceptions=True) if outcome is not None
    )
    for task in beats:
        task.cancel()
    done = [agent for agent in agents if agent.acked_at is not None]
    emit(
        {
            "ev": "done",
            "acked": len(done),
            "failed": failed,
            "last_ack": max((a.acked_at or 0.0 for a in done), default=None),
            "latency_ms": [round(a.latency_ms or 0.0, 2) for a in done],
            "frame_bytes": round(sum(a.bytes for a in agents) / max(1, len(agents))),
        }
    )
    for agent in agents:
        if agent.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(agent.ws.close(), 1)


# --------------------------------------------------------------------------- run: the scenario

GC_PROBE = """
import gc, sys, time
if b"server" in open("/proc/self/cmdline", "rb").read().split(b"\\0"):
    began = [0.0]
    def _timed(phase, info):
        if phase == "start":
            began[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - began[0]) * 1000
        if ms > 50:
            sys.stderr.write(f"GCPROBE t={time.time():.3f} gen={info['generation']} ms={ms:.0f}\\n")
    gc.callbacks.append(_timed)
"""


@contextlib.contextmanager
def gc_probe_in_path(state: Path) -> Iterator[None]:
    """For the server started inside: a `sitecustomize` that logs every garbage collection over
    50 ms (wall time) to its output, which `gc_pauses` reads back."""
    probe = state / "gc-probe"
    probe.mkdir(parents=True, exist_ok=True)
    (probe / "sitecustomize.py").write_text(GC_PROBE)
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(probe), before) if p)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def gc_pauses(home: Path, since: float) -> dict[str, Any]:
    pauses = []
    for line in (home / "bench-server.out").read_text(errors="replace").splitlines():
        if line.startswith("GCPROBE t="):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            if float(fields["t"]) >= since:
                pauses.append(float(fields["ms"]))
    return {"n": len(pauses), "total_ms": round(sum(pauses)), "max_ms": round(max(pauses, default=0.0))}


def empty_inventory(db: Path) -> None:
    if not db.exists():
        return
    with sqlite3.connect(db) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in INVENTORY_TABLES:
            if table in names:
                conn.execute(f"DELETE FROM {table}")


async def probe_api(url: str, token: str, stop: asyncio.Event, latencies: list[float]) -> None:
    import httpx

    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = await client.get("/api/v1/agents", params={"limit": 100})
            if response.status_code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.2)


async def sample_server(proc: psutil.Process, stop: asyncio.Event, peak: list[int]) -> None:
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            peak[0] = max(peak[0], proc.memory_info().rss)
        await asyncio.sleep(0.25)


async def scenario(args: argparse.Namespace) -> None:
    n = args.agents
    fleet = Fleet(args.state, args.port)
    fleet.ensure(n)
    token = fleet.token
    empty_inventory(fleet.home / "Server" / "borealis.db")
    server = fleet.server(heartbeat_s=30.0)
    if args.profile:
        server.python_args = ["-m", "cProfile", "-o", str(args.profile)]
    if args.gc_probe:
        with gc_probe_in_path(args.state):
            server.start()
    else:
        server.start()
    header, _ = load_fleet(fleet.identities)
    processes = math.ceil(n / PER_GENERATOR)
    generators: list[asyncio.subprocess.Process] = []
    try:
        await asyncio.sleep(2)
        proc = server.proc
        for i in range(processes):
            start, count = i * n // processes, (i + 1) * n // processes - i * n // processes
            generators.append(
                await asyncio.create_subprocess_exec(
                    PY,
                    THIS,
                    "gen",
                    "--identities",
                    str(fleet.identities),
                    "--start",
                    str(start),
                    "--count",
                    str(count),
                    "--url",
                    server.ws_url,
                    "--source",
                    f"127.0.0.{2 + i}",
                    "--spread",
                    str(args.spread),
                    "--timeout",
                    str(args.timeout),
                    "--seed",
                    str(7 + i),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    limit=64 * MiB,
                )
            )
        for gen in generators:
            assert gen.stdout is not None
            async with asyncio.timeout(args.connect_timeout):
                line = orjson.loads(await gen.stdout.readline())
            assert line["ev"] == "connected", line
        log(f"{n} agents connected; settling {args.settle}s")
        await asyncio.sleep(args.settle)
        rss_before = proc.memory_info().rss
        window_start = time.time()
        cpu_before = proc.cpu_times()
        stop, latencies, peak = asyncio.Event(), [], [rss_before]
        probes = [
            asyncio.create_task(probe_api(server.url, token, stop, latencies)),
            asyncio.create_task(sample_server(proc, stop, peak)),
        ]
        t0 = time.time() + 0.5
        for gen in generators:
            assert gen.stdin is not None
            gen.stdin.write(f"{t0}\n".encode())
            await gen.stdin.drain()
        log(f"uploading over {args.spread}s")
        dones = []
        for gen in generators:
            assert gen.stdout is not None
            async with asyncio.timeout(args.spread + args.timeout + 60):
                dones.append(orjson.loads(await gen.stdout.readline()))
        stop.set()
        await asyncio.gather(*probes, return_exceptions=True)
        cpu_after = proc.cpu_times()
        acked = sum(d["acked"] for d in dones)
        last = max((d["last_ack"] or 0.0) for d in dones)
        emit(
            {
                "scenario": "b13",
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "agents": n,
                "spread_s": args.spread,
                "frame_bytes": round(sum(d["frame_bytes"] for d in dones) / len(dones)),
                "acked": acked,
                "failed": sum(d["failed"] for d in dones),
                "all_stored_s": round(last - t0, 2) if acked == n else None,
                "upload_to_ack_ms": summary([v for d in dones for v in d["latency_ms"]], 1),
                "rss_before_mib": round(rss_before / MiB, 1),
                "rss_peak_mib": round(peak[0] / MiB, 1),
                "rss_growth_mib": round((peak[0] - rss_before) / MiB, 1),
                "server_cpu_s": round(
                    cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system, 1
                ),
                "api_agents_ms": summary(latencies, 1),
                "db": server.db_sizes(),
                "gc_pauses_over_50ms": gc_pauses(fleet.home, window_start) if args.gc_probe else None,
                "machine": machine(),
                "server_key": header.get("server_public_key", "")[:8],
            }
        )
    finally:
        for gen in generators:
            if gen.returncode is None:
                gen.kill()
                await gen.wait()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="the B13 scenario")
    run.add_argument("--agents", type=int, required=True)
    run.add_argument("--spread", type=float, default=60.0, help="uploads start within this many seconds")
    run.add_argument("--settle", type=float, default=3.0)
    run.add_argument("--timeout", type=float, default=120.0, help="per upload, send → ack")
    run.add_argument("--connect-timeout", type=float, default=300.0)
    run.add_argument("--state", type=Path, default=DEFAULT_STATE)
    run.add_argument("--port", type=int, default=5893)
    run.add_argument("--profile", type=Path, help="run the server under cProfile, stats to this file")
    run.add_argument("--gc-probe", action="store_true", help="report the server's GC pauses over 50 ms")
    gen = sub.add_parser("gen", help="one generator process (started by run)")
    gen.add_argument("--identities", required=True)
    gen.add_argument("--start", type=int, required=True)
    gen.add_argument("--count", type=int, required=True)
    gen.add_argument("--url", required=True)
    gen.add_argument("--source", default="127.0.0.2")
    gen.add_argument("--spread", type=float, required=True)
    gen.add_argument("--timeout", type=float, required=True)
    gen.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(scenario(args) if args.command == "run" else generate(args))


if __name__ == "__main__":
    main()
