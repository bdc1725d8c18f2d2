"""Pieces the scenarios share: the server under test, the enrolled fleet, generator processes, probes.

Everything runs on loopback; every loop has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import tomli_w

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = sys.executable
SIMAGENTS = str(BENCH / "simagents.py")
PER_GENERATOR = 9_500
DEFAULT_STATE = Path(os.environ.get("BOREALIS_BENCH_STATE", "/tmp/borealis-bench"))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(record: dict[str, Any]) -> None:
    """The one JSON line a scenario prints on stdout."""
    record.setdefault("load_avg_1m_end", round(os.getloadavg()[0], 2))
    sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
    sys.stdout.flush()


def run_cli(*args: str, home: Path) -> str:
    """`python -m borealis ARGS --home H`; returns stdout (the secret, for the create-* commands)."""
    done = subprocess.run(
        [PY, "-m", "borealis", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"borealis {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def listen_counters() -> dict[str, int]:
    """TcpExt ListenOverflows / ListenDrops from /proc/net/netstat (what `nstat` shows)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    out: dict[str, int] = {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            for key in ("ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies"):
                out[key] = int(table.get(key, 0))
    return out


def ctx_switches(pid: int) -> tuple[int, int]:
    """Voluntary and involuntary context switches summed over every thread of the process.

    /proc/PID/status counts the main thread only; a worker with helper threads needs the sum.
    """
    voluntary = involuntary = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    voluntary += int(line.split()[1])
                elif line.startswith("nonvoluntary_ctxt_switches:"):
                    involuntary += int(line.split()[1])
    return voluntary, involuntary


@dataclass
class Sample:
    wall: float
    cpu_s: float
    rss: int
    fds: int
    write_bytes: int
    write_calls: int


def sample(proc: psutil.Process) -> Sample:
    with proc.oneshot():
        cpu = proc.cpu_times()
        io = proc.io_counters()
        return Sample(
            wall=time.monotonic(),
            cpu_s=cpu.user + cpu.system,
            rss=proc.memory_info().rss,
            fds=proc.num_fds(),
            write_bytes=io.write_chars,
            write_calls=io.write_count,
        )


MiB = 1024 * 1024


# --------------------------------------------------------------------------- server under test


@dataclass
class Server:
    home: Path
    port: int
    settings: dict[str, Any] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None
    python_args: list[str] = field(default_factory=list)  # e.g. ["-m", "cProfile", "-o", FILE]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/agent/ws"

    @property
    def db(self) -> Path:
        return self.home / "Server" / "borealis.db"

    def write_config(self) -> None:
        path = self.home / "Server" / "server.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = {"host": "127.0.0.1", "port": self.port, **self.settings}
        path.write_text(tomli_w.dumps(table))

    def start(self, wait: bool = True) -> None:
        self.write_config()
        logs = self.home / "bench-server.out"
        handle = logs.open("ab")
        self.popen = subprocess.Popen(
            [
                PY,
                *self.python_args,
                "-m",
                "borealis",
                "server",
                "--home",
                str(self.home),
                "--port",
                str(self.port),
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        handle.close()
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.popen.returncode}; see {self.home}/bench-server.out"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError("server not ready in time")

    @property
    def proc(self) -> psutil.Process:
        assert self.popen is not None
        return psutil.Process(self.popen.pid)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(30)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            # uvicorn re-raises SIGTERM after its graceful shutdown, which would kill a cProfile run
            # before it writes its stats; SIGINT ends in KeyboardInterrupt, which exits normally.
            self.popen.send_signal(signal.SIGINT if self.python_args else signal.SIGTERM)
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()

    def db_sizes(self) -> dict[str, int]:
        sizes = {}
        for suffix in ("", "-wal", "-shm"):
            path = Path(str(self.db) + suffix)
            sizes["db" + suffix.replace("-", "_")] = path.stat().st_size if path.exists() else 0
        return sizes


# --------------------------------------------------------------------------- the enrolled fleet


class Fleet:
    """A server home plus the identities enrolled on it, kept under the state directory and reused."""

    def __init__(self, state: Path, port: int) -> None:
        self.state = state
        self.home = state / "home"
        self.identities = state / "agents.jsonl"
        self.token_file = state / "token"
        self.port = port

    def count(self) -> int:
        if not self.identities.exists():
            return 0
        with self.identities.open("rb") as handle:
            return sum(1 for line in handle if line.strip() and b'"kind"' not in line)

    def agent_ids(self, start: int, count: int) -> list[str]:
        ids: list[str] = []
        with self.identities.open("rb") as handle:
            for line in handle:
                if line.strip() and b'"kind"' not in line:
                    ids.append(orjson.loads(line)["agent_id"])
        return ids[start : start + count]

    def server(self, **settings: Any) -> Server:
        return Server(self.home, self.port, settings)

    @property
    def token(self) -> str:
        if not self.token_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            Server(self.home, self.port).write_config()
            secret = run_cli(
                "admin",
                "create-token",
                "--name",
                "bench",
                "--scope",
                "agents:read",
                "--scope",
                "metrics:read",
                home=self.home,
            )
            self.token_file.write_text(secret)
        return self.token_file.read_text().strip()

    @property
    def jobs_token(self) -> str:
        """A second token for the job scenarios: jobs:run, jobs:read, agents:read, metrics:read."""
        path = self.state / "token-jobs"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            Server(self.home, self.port).write_config()
            scopes = ("jobs:run", "jobs:read", "agents:read", "metrics:read")
            args = [arg for scope in scopes for arg in ("--scope", scope)]
            secret = run_cli("admin", "create-token", "--name", "bench-jobs", *args, home=self.home)
            path.write_text(secret)
        return path.read_text().strip()

    def ensure(self, n: int, concurrency: int = 32) -> dict[str, Any] | None:
        """Enroll agents until the fleet holds at least `n`; returns the enrollment figures, if any."""
        have = self.count()
        if have >= n:
            return None
        missing = n - have
        self.state.mkdir(parents=True, exist_ok=True)
        _ = self.token
        server = self.server()
        server.write_config()
        code = run_cli(
            "admin", "create-enrollment", "--uses", str(missing), "--expires", "24h", home=self.home
        )
        log(f"enrolling {missing} agents (fleet has {have})")
        server.start()
        try:
            done = subprocess.run(
                [
                    PY,
                    SIMAGENTS,
                    "enroll",
                    "--server",
                    server.url,
                    "--code",
                    code,
                    "--count",
                    str(missing),
                    "--out",
                    str(self.identities),
                    "--concurrency",
                    str(concurrency),
                ],
                capture_output=True,
                timeout=3600,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"enrollment failed: {done.stderr.decode()[-2000:]}")
            figures = orjson.loads(done.stdout.splitlines()[-1])
        finally:
            server.stop()
        log(f"enrolled: {figures}")
        if self.count() < n:
            raise RuntimeError(f"fleet has {self.count()} agents, wanted {n}: {figures}")
        return figures


# --------------------------------------------------------------------------- API probes


class Api:
    def __init__(self, base: str, token: str) -> None:
        # Enough connections for one event stream per job in flight (B3) besides the probes.
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
        self.client = httpx.AsyncClient(
            base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=60, limits=limits
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def heartbeats_total(self) -> int:
        response = await self.client.get("/metrics")
        response.raise_for_status()
        for line in response.text.splitlines():
            if line.startswith("borealis_heartbeats_total "):
                return int(float(line.split()[1]))
        raise RuntimeError("no borealis_heartbeats_total in /metrics")

    async def agent_ids_with_status(self, status: str) -> set[str]:
        found: set[str] = set()
        cursor: str | None = None
        for _ in range(10_000):
            params: dict[str, Any] = {"status": status, "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            response = await self.client.get("/api/v1/agents", params=params)
            response.raise_for_status()
            body = response.json()
            found.update(item["id"] for item in body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                break
        return found


async def false_offline(api: Api, ours: set[str]) -> dict[str, Any]:
    """Our connected agents that the API reports as offline or overdue (there should be none)."""
    started = time.monotonic()
    offline = await api.agent_ids_with_status("offline")
    overdue = await api.agent_ids_with_status("overdue")
    wrong = (offline | overdue) & ours
    return {"false_offline": len(wrong), "check_s": round(time.monotonic() - started, 2)}


# --------------------------------------------------------------------------- generator processes


@dataclass
class Generator:
    index: int
    start: int
    count: int
    process: asyncio.subprocess.Process
    latest: dict[str, Any] = field(default_factory=dict)
    done: dict[str, Any] | None = None
    reader: asyncio.Task[None] | None = None


class Generators:
    """Several `simagents.py run` processes, each with ≤ 9,500 agents on its own 127.0.0.x address."""

    def __init__(self) -> None:
        self.items: list[Generator] = []

    async def start(
        self,
        fleet: Fleet,
        server: Server,
        n: int,
        heartbeat_s: float,
        duration: float,
        welcome_times: bool = False,
        processes: int | None = None,
        connect_concurrency: int = 64,
        job_times: bool = False,
        first: int = 0,
        source_base: int = 2,
        first_connect_within: float = 0.0,
    ) -> None:
        """`n` agents from the fleet's identity `first` on; each process on 127.0.0.(source_base + i).
        With `first_connect_within`, each agent's first connect comes at a random time in [0, S)."""
        processes = processes or math.ceil(n / PER_GENERATOR)
        if math.ceil(n / processes) > PER_GENERATOR:
            raise ValueError(f"{n} agents need at least {math.ceil(n / PER_GENERATOR)} generator processes")
        base, extra = divmod(n, processes)
        offset = first
        for i in range(processes):
            count = base + (1 if i < extra else 0)
            args = [
                SIMAGENTS,
                "run",
                "--identities",
                str(fleet.identities),
                "--start",
                str(offset),
                "--count",
                str(count),
                "--url",
                server.ws_url,
                "--source",
                f"127.0.0.{source_base + i}",
                "--heartbeat-s",
                str(heartbeat_s),
                "--duration",
                str(duration),
                "--status-every",
                "0.5",
                "--connect-concurrency",
                str(connect_concurrency),
                "--seed",
                str(1000 + i),
            ]
            if welcome_times:
                args.append("--welcome-times")
            if job_times:
                args.append("--job-times")
            if first_connect_within > 0:
                args += ["--first-connect-within", str(first_connect_within)]
            process = await asyncio.create_subprocess_exec(
                PY, *args, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL, limit=64 * MiB
            )
            generator = Generator(i, offset, count, process)
            generator.reader = asyncio.create_task(self._read(generator))
            self.items.append(generator)
            offset += count

    async def _read(self, generator: Generator) -> None:
        assert generator.process.stdout is not None
        async for line in generator.process.stdout:
            record = orjson.loads(line)
            if record.get("ev") == "done":
                generator.done = record
            else:
                generator.latest = record

    def total(self, key: str) -> int:
        return sum(int(g.latest.get(key, 0)) for g in self.items)

    @property
    def pids(self) -> list[int]:
        return [g.process.pid for g in self.items]

    async def wait_connected(self, target: int, timeout: float) -> float | None:
        """Seconds until `target` agents are connected, or None on timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.total("connected") >= target:
                return time.monotonic() - started
            if any(g.process.returncode is not None for g in self.items):
                raise RuntimeError("a generator process exited early")
            await asyncio.sleep(0.2)
        return None

    async def stop(self) -> list[dict[str, Any]]:
        for generator in self.items:
            if generator.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    generator.process.send_signal(signal.SIGTERM)
        for generator in self.items:
            try:
                await asyncio.wait_for(generator.process.wait(), 60)
            except TimeoutError:
                generator.process.kill()
                await generator.process.wait()
            if generator.reader is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(generator.reader, 10)
        return [g.done or g.latest for g in self.items]


def merge_handshakes(dones: list[dict[str, Any]]) -> dict[str, Any]:
    """Handshake latency (TCP connect → welcome) over every generator's first connections."""
    from simagents import summary

    values: list[float] = []
    for done in dones:
        values.extend(done.get("handshake_raw") or [])
    return summary(values, 2)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "mem_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": sys.version.split()[0],
        "nofile": __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE)[0],
    }
