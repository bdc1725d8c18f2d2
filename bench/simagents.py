"""Simulated Borealis agents that speak the real protocol (DESIGN §6), for the benchmarks.

Two commands:

  enroll  enroll N agents through `POST /api/v1/enroll`, each with its own Ed25519 key, and append
          their identities to a JSON-lines file so later runs reuse them:
            python bench/simagents.py enroll --server http://127.0.0.1:5000 --code BRL1-... \
                --count 10000 --out /tmp/borealis-bench/fleet/agents.jsonl

  run     connect a slice of those identities to `/api/v1/agent/ws` from one source address:
          verify the server's signed challenge, send a signed hello, wait for welcome, then send a
          heartbeat every heartbeat_s ±10 %. A dropped agent reconnects with full-jitter exponential
          backoff from 1 s (DESIGN §6.5). Prints one JSON status line every --status-every seconds and
          a final `done` line, then exits after --duration seconds (or on SIGTERM / SIGINT):
            python bench/simagents.py run --identities agents.jsonl --start 0 --count 9500 \
                --url ws://127.0.0.1:5000/api/v1/agent/ws --source 127.0.0.2 --heartbeat-s 30 --duration 300

One `run` process holds at most ~9,500 connections (the file limit is 20,000 per process); the
scenario driver (`bench/scenarios.py`) starts several, each on its own 127.0.0.x source address.
Loopback only, bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from borealis.core.backoff import Backoff
from borealis.protocol import PROTOCOL_VERSION, keys
from borealis.protocol.install_code import InstallCode
from borealis.protocol.messages import (
    AGENT_WS_PATH,
    ENROLL_PATH,
    MessageType,
    challenge_payload,
    hello_payload,
)

MAX_PER_PROCESS = 9_500
SIM_VERSION = "0.1.0-sim"
HANDSHAKE_TIMEOUT_S = 10.0
STABLE_AFTER_S = 60.0  # like the real agent: the backoff resets after a connection this long
BACKOFF_CAP_S = 300.0


def _loop_policy() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
    sys.stdout.flush()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))  # nearest rank
    return ordered[index]


def summary(values: list[float], digits: int = 3) -> dict[str, Any]:
    """p50, p99, max and the sample count, as PERFORMANCE.md asks for every latency."""
    if not values:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    return {
        "p50": round(pct(values, 0.50) or 0.0, digits),
        "p99": round(pct(values, 0.99) or 0.0, digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


# --------------------------------------------------------------------------- identities file


def load_fleet(path: Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The header line (server URL and public key) and the identities, in enrollment order."""
    header: dict[str, Any] = {}
    agents: list[dict[str, str]] = []
    if not path.exists():
        return header, agents
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = orjson.loads(line)
            if record.get("kind") == "fleet":
                header = record
            else:
                agents.append(record)
    return header, agents


def _private_b64(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return keys.b64encode(raw)


def private_from_b64(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(keys.b64decode(text))


async def enroll_many(server: str, code: str, count: int, out: Path, concurrency: int) -> dict[str, Any]:
    """Enroll `count` agents with one install code; appends to `out` as they succeed."""
    import httpx

    install = InstallCode.decode(code)
    header, existing = load_fleet(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    next_index = len(existing)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    done = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(next_index + i)
    lock = asyncio.Lock()
    handle = out.open("ab")
    server_key_b64 = header.get("server_public_key")

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done, server_key_b64
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            key = keys.generate()
            body = {
                "secret": install.secret,
                "public_key": keys.public_b64(key),
                "hostname": f"sim-{index:05d}",
                "facts": {"os": "linux", "os_version": "sim", "arch": "x86_64", "version": SIM_VERSION},
            }
            for attempt in range(5):
                started = time.perf_counter()
                try:
                    response = await client.post(server.rstrip("/") + ENROLL_PATH, json=body)
                except httpx.HTTPError as exc:
                    failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                if response.status_code != 201:
                    failures[str(response.status_code)] = failures.get(str(response.status_code), 0) + 1
                    if response.status_code == 403:  # code used up or revoked: no point retrying
                        return
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                answer = response.json()
                server_key = keys.public_from_b64(answer["server_public_key"])
                if keys.fingerprint(server_key) != install.fingerprint:
                    raise SystemExit("server key does not match the install code's fingerprint")
                async with lock:
                    if server_key_b64 is None:
                        server_key_b64 = answer["server_public_key"]
                        fleet = {"kind": "fleet", "server_public_key": server_key_b64}
                        handle.write(orjson.dumps(fleet) + b"\n")
                    record = {"agent_id": answer["agent_id"], "key": _private_b64(key), "i": index}
                    handle.write(orjson.dumps(record) + b"\n")
                    done += 1
                break

    started = time.monotonic()
    try:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
            await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    finally:
        handle.close()
    elapsed = time.monotonic() - started
    return {
        "enrolled": done,
        "asked": count,
        "seconds": round(elapsed, 2),
        "per_s": round(done / elapsed, 1) if elapsed else None,
        "latency_ms": summary(latencies, 2),
        "failures": failures,
    }


# --------------------------------------------------------------------------- connected agents


class Stats:
    def __init__(self) -> None:
        self.connected = 0
        self.welcomes = 0
        self.disconnects = 0  # connections lost after welcome that we did not close ourselves
        self.connect_failures = 0
        self.refusals: dict[str, int] = {}
        self.heartbeats = 0
        self.handshake_ms: list[float] = []  # first connection of each agent: TCP connect → welcome
        self.welcome_at: dict[str, float] = {}  # agent_id → wall time of its latest welcome
        self.disconnect_codes: dict[str, int] = {}
        self.jobs: list[tuple[str, str, float]] = []  # (job_id, agent_id, wall time the frame arrived)
        self.acks = 0


class SimAgent:
    def __init__(
        self,
        agent_id: str,
        key: Ed25519PrivateKey,
        server_key: Ed25519PublicKey,
        url: str,
        source: str | None,
        heartbeat_s: float,
        stats: Stats,
        gate: asyncio.Semaphore,
        stopping: asyncio.Event,
        rng: random.Random,
        first_connect_within: float = 0.0,
    ) -> None:
        self.agent_id = agent_id
        self.key = key
        self.server_key = server_key
        self.url = url
        self.source = source
        self.heartbeat_s = heartbeat_s
        self.stats = stats
        self.gate = gate
        self.stopping = stopping
        self.rng = rng
        self.first_connect_within = first_connect_within  # an agent that was offline: comes back later
        self.seq = 0
        self.started = time.monotonic()
        self.ws: ClientConnection | None = None

    async def run(self) -> None:
        backoff = Backoff(base=1.0, cap=BACKOFF_CAP_S, rng=self.rng)
        first = True
        if self.first_connect_within > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.rng.uniform(0, self.first_connect_within)):
                    await self.stopping.wait()
        while not self.stopping.is_set():
            welcomed_at: float | None = None
            try:
                if first:
                    async with self.gate:  # ramp up: a bounded number of handshakes in flight
                        welcomed_at = await self._connect(record_latency=True)
                else:
                    welcomed_at = await self._connect(record_latency=False)
                first = False
                await self._serve()
            except ConnectionClosed as exc:
                if welcomed_at is None:
                    self.stats.connect_failures += 1
                    code = exc.rcvd.code if exc.rcvd is not None else 1006
                    self.stats.refusals[str(code)] = self.stats.refusals.get(str(code), 0) + 1
                else:
                    code = exc.rcvd.code if exc.rcvd is not None else 1006
                    self.stats.disconnect_codes[str(code)] = self.stats.disconnect_codes.get(str(code), 0) + 1
            except (OSError, TimeoutError, InvalidHandshake, ValueError, KeyError):
                if welcomed_at is None:
                    self.stats.connect_failures += 1
            finally:
                if welcomed_at is not None:
                    self.stats.connected -= 1
                    if not self.stopping.is_set():
                        self.stats.disconnects += 1
                self.ws = None
            if self.stopping.is_set():
                return
            if welcomed_at is not None and time.monotonic() - welcomed_at >= STABLE_AFTER_S:
                backoff.reset()
            first = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff.next_delay()):
                    await self.stopping.wait()

    async def _connect(self, record_latency: bool) -> float:
        started = time.perf_counter()
        extra: dict[str, Any] = {"local_addr": (self.source, 0)} if self.source else {}
        ws = await connect(
            self.url,
            compression=None,
            ping_interval=None,
            open_timeout=HANDSHAKE_TIMEOUT_S,
            close_timeout=3.0,
            max_size=1024 * 1024,
            user_agent_header="borealis-simagent",
            **extra,
        )
        self.ws = ws
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                challenge = orjson.loads(await ws.recv())
                if challenge.get("t") != MessageType.CHALLENGE:
                    raise ValueError(f"expected challenge, got {challenge.get('t')!r}")
                nonce = challenge["nonce"]
                payload = challenge_payload(
                    nonce, float(challenge["server_time"]), int(challenge["protocol"])
                )
                if not keys.verify(self.server_key, payload, challenge["signature"]):
                    await ws.close(1008, "server key mismatch")
                    raise ValueError("challenge signature does not verify")
                hello = {
                    "t": MessageType.HELLO.value,
                    "agent_id": self.agent_id,
                    "signature": keys.sign(self.key, hello_payload(nonce, self.agent_id)),
                    "version": SIM_VERSION,
                    "protocol": PROTOCOL_VERSION,
                    "facts": {"os": "linux", "arch": "x86_64"},
                }
                await ws.send(orjson.dumps(hello).decode())
                welcome = orjson.loads(await ws.recv())
                if welcome.get("t") != MessageType.WELCOME:
                    raise ValueError(f"expected welcome, got {welcome.get('t')!r}")
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1.0)
            raise
        now = time.perf_counter()
        if record_latency:
            self.stats.handshake_ms.append((now - started) * 1000)
        self.stats.connected += 1
        self.stats.welcomes += 1
        self.stats.welcome_at[self.agent_id] = time.time()
        return time.monotonic()

    async def _serve(self) -> None:
        ws = self.ws
        assert ws is not None
        # The first heartbeat goes out at a random point of the first interval, like agents that
        # started at different times; afterwards every heartbeat_s ± 10 %.
        delay = self.rng.uniform(0.05, 1.0) * self.heartbeat_s
        next_beat = time.monotonic() + delay
        while not self.stopping.is_set():
            timeout = max(0.0, next_beat - time.monotonic())
            try:
                async with asyncio.timeout(timeout):
                    raw = await ws.recv()  # a close ends us
                await self._on_message(ws, raw)
                continue
            except TimeoutError:
                pass
            self.seq += 1
            beat = {
                "t": MessageType.HEARTBEAT.value,
                "seq": self.seq,
                "uptime_s": round(time.monotonic() - self.started, 1),
                "rss_bytes": 30_000_000,
                "cpu_pct": 0.01,
                "roles_health": {},
                "sessions": [],
            }
            await ws.send(orjson.dumps(beat).decode())
            self.stats.heartbeats += 1
            next_beat += self.heartbeat_s * self.rng.uniform(0.9, 1.1)

    async def _on_message(self, ws: ClientConnection, raw: str | bytes) -> None:
        """A job is answered as a no-op at once: `job.accepted`, then `job.result` succeeded.

        The job's signature is not verified (a simulated agent, measuring the server's side).
        """
        received = time.time()
        message = orjson.loads(raw)
        kind = message.get("t")
        if kind == "ack":
            self.stats.acks += 1
            return
        if kind != "job":
            return
        job_id = message["job_id"]
        self.stats.jobs.append((job_id, self.agent_id, received))
        started = _iso(received)
        self.seq += 1
        accepted = {
            "t": "job.accepted",
            "msg_id": f"{self.agent_id}-{self.seq}",
            "job_id": job_id,
            "started_at": started,
        }
        self.seq += 1
        result = {
            "t": "job.result",
            "msg_id": f"{self.agent_id}-{self.seq}",
            "job_id": job_id,
            "status": "succeeded",
            "exit_code": 0,
            "started_at": started,
            "finished_at": _iso(time.time()),
            "stdout_tail": "",
            "stderr_tail": "",
            "data": {},
            "error": None,
        }
        await ws.send(orjson.dumps(accepted).decode())
        await ws.send(orjson.dumps(result).decode())

    async def close(self) -> None:
        ws = self.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close(1000, "agent stopping")


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall % 1 * 1e6):06d}Z"


def _raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def run_agents(args: argparse.Namespace) -> None:
    header, identities = load_fleet(Path(args.identities))
    chosen = identities[args.start : args.start + args.count]
    if len(chosen) < args.count:
        raise SystemExit(f"only {len(chosen)} identities from index {args.start}; enroll more first")
    if len(chosen) > MAX_PER_PROCESS:
        raise SystemExit(f"at most {MAX_PER_PROCESS} agents per process (file limit); start more processes")
    nofile = _raise_nofile()
    server_key = keys.public_from_b64(header["server_public_key"])
    stats = Stats()
    stopping = asyncio.Event()
    gate = asyncio.Semaphore(args.connect_concurrency)
    rng = random.Random(args.seed if args.seed is not None else os.getpid())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    agents = [
        SimAgent(
            ident["agent_id"],
            private_from_b64(ident["key"]),
            server_key,
            args.url,
            args.source,
            args.heartbeat_s,
            stats,
            gate,
            stopping,
            random.Random(rng.random()),
            args.first_connect_within,
        )
        for ident in chosen
    ]
    started = time.monotonic()
    tasks = [asyncio.create_task(agent.run()) for agent in agents]
    _emit({"ev": "start", "pid": os.getpid(), "agents": len(agents), "source": args.source, "nofile": nofile})

    def status(kind: str) -> dict[str, Any]:
        return {
            "ev": kind,
            "t": round(time.time(), 3),
            "elapsed_s": round(time.monotonic() - started, 2),
            "connected": stats.connected,
            "welcomes": stats.welcomes,
            "disconnects": stats.disconnects,
            "connect_failures": stats.connect_failures,
            "heartbeats": stats.heartbeats,
            "jobs": len(stats.jobs),
            "acks": stats.acks,
            "refusals": stats.refusals,
            "disconnect_codes": stats.disconnect_codes,
        }

    deadline = started + args.duration
    while not stopping.is_set() and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(args.status_every, max(0.0, deadline - time.monotonic()))):
                await stopping.wait()
        _emit(status("status"))
    stopping.set()
    final = status("done")  # counted before our own closes
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(15):
            await asyncio.gather(*(agent.close() for agent in agents), return_exceptions=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    final["handshake_ms"] = summary(stats.handshake_ms, 2)
    final["handshake_raw"] = [round(x, 2) for x in stats.handshake_ms]
    if args.welcome_times:
        final["welcome_at"] = stats.welcome_at
    if args.job_times:
        final["job_times"] = [[j, a, round(t, 6)] for j, a, t in stats.jobs]
    _emit(final)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    enroll = sub.add_parser("enroll", help="enroll N simulated agents through the API")
    enroll.add_argument("--server", required=True, help="server URL, e.g. http://127.0.0.1:5000")
    enroll.add_argument("--code", required=True, help="install code with enough uses")
    enroll.add_argument("--count", type=int, required=True)
    enroll.add_argument("--out", required=True, help="identities file (JSON lines), appended to")
    enroll.add_argument("--concurrency", type=int, default=32)
    run = sub.add_parser("run", help="connect simulated agents and heartbeat")
    run.add_argument("--identities", required=True)
    run.add_argument("--start", type=int, default=0)
    run.add_argument("--count", type=int, required=True)
    run.add_argument("--url", required=True, help="ws://HOST:PORT" + AGENT_WS_PATH)
    run.add_argument("--source", default=None, help="source address to bind, e.g. 127.0.0.2")
    run.add_argument("--heartbeat-s", type=float, default=30.0)
    run.add_argument("--duration", type=float, required=True, help="stop by itself after this long")
    run.add_argument("--status-every", type=float, default=1.0)
    run.add_argument("--connect-concurrency", type=int, default=64)
    run.add_argument("--seed", type=int, default=None)
    run.add_argument("--welcome-times", action="store_true", help="report each agent's last welcome time")
    run.add_argument("--job-times", action="store_true", help="report each job frame's arrival time")
    run.add_argument(
        "--first-connect-within",
        type=float,
        default=0.0,
        help="each agent first connects at a random time in [0, S)",
    )
    args = parser.parse_args(argv)
    if args.count is not None and args.count < 0:
        parser.error("--count must be positive")
    _loop_policy()
    if args.command == "enroll":
        _emit(
            {
                "ev": "enrolled",
                **asyncio.run(
                    enroll_many(args.server, args.code, args.count, Path(args.out), args.concurrency)
                ),
            }
        )
    else:
        if args.duration <= 0 or args.duration > 6 * 3600:
            parser.error("--duration must be in (0, 21600] seconds")
        asyncio.run(run_agents(args))


if __name__ == "__main__":
    main()
