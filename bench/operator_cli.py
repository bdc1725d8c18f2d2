"""The operator CLI's figures (issue 14): `borealis --help` and `borealis agents` start-up (to the first
line of output, with 100 agents listed), and `borealis run --all -- 'echo hi'` wall time end to end
from the shell over N real local agents (`borealis agent run` processes on their own homes).

    .venv/bin/python bench/operator_cli.py --agents 20 50 --repeat 5

Loopback only; a fresh state directory (default /tmp/borealis-bench-cli) and port 5830; every process
it starts is killed at the end. Prints one JSON line on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from harness import PY, Server, emit, log, machine, run_cli

LISTED = 100


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(seconds to the first line of stdout, seconds to exit, exit code, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    first_line = proc.stdout.readline()
    first = time.perf_counter() - started
    rest = proc.stdout.read()  # through the same buffer (communicate() would skip what readline buffered)
    proc.wait(300)
    return first, time.perf_counter() - started, proc.returncode, first_line + rest


def figures(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


class LocalAgents:
    def __init__(self, root: Path, code: str) -> None:
        self.root, self.code = root, code
        self.procs: list[subprocess.Popen[bytes]] = []

    def add(self, count: int) -> None:
        for _ in range(count):
            home = self.root / f"agent-{len(self.procs):03d}"
            subprocess.run(
                [PY, "-m", "borealis", "agent", "enroll", "--home", str(home), "--code", self.code],
                check=True,
                capture_output=True,
            )
            out = (home / "run.out").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [PY, "-m", "borealis", "agent", "run", "--home", str(home), "--no-startup-delay"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def kill(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def online(server: Server, token: str) -> int:
    answer = httpx.get(
        f"{server.url}/api/v1/agents",
        params={"status": "online", "limit": 1000},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return len(answer.json()["items"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--state", type=Path, default=Path("/tmp/borealis-bench-cli"))
    parser.add_argument("--port", type=int, default=5830)
    args = parser.parse_args()
    shutil.rmtree(args.state, ignore_errors=True)
    server = Server(args.state / "server", args.port)
    server.write_config()
    token = run_cli("admin", "create-token", "--name", "bench-cli", "--scope", "admin", home=server.home)
    code = run_cli("admin", "create-enrollment", "--uses", str(LISTED + max(args.agents)), home=server.home)
    env = {
        **os.environ,
        "BOREALIS_URL": server.url,
        "BOREALIS_TOKEN": token,
        "BOREALIS_CONFIG_DIR": str(args.state),
    }
    agents = LocalAgents(args.state / "agents", code)
    result: dict[str, Any] = {
        "bench": "cli",
        "machine": machine(),
        "load_before": os.getloadavg()[0],
        "run": {},
    }
    server.start()
    try:
        for count in sorted(args.agents):
            log(f"starting agents up to {count}")
            agents.add(count - len(agents.procs))
            deadline = time.monotonic() + 300
            while online(server, token) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {online(server, token)} of {count} agents online")
                time.sleep(0.5)
            time.sleep(2)  # let the start-up inventory settle
            walls = []
            for _ in range(args.repeat):
                _, wall, rc, out = timed([PY, "-m", "borealis", "run", "--all", "--", "echo hi"], env)
                lines = [line for line in out.splitlines() if line.endswith(": hi")]
                if rc != 0 or len(lines) != count:
                    raise RuntimeError(f"run over {count}: exit {rc}, {len(lines)} answers:\n{out}")
                walls.append(wall)
            spans = []  # the server's own view: job created → last result finished (agent clock)
            for _ in range(args.repeat):
                _, wall, rc, out = timed(
                    [PY, "-m", "borealis", "run", "--all", "--json", "--", "echo hi"], env
                )
                view = json.loads(out)
                last = max(datetime.fromisoformat(r["finished_at"]) for r in view["results"])
                spans.append((last - datetime.fromisoformat(view["created_at"])).total_seconds())
            result["run"][str(count)] = {
                **figures(walls),
                "job_span": figures(spans),
                "load": round(os.getloadavg()[0], 2),
            }
            log(f"run over {count}: {result['run'][str(count)]}")
        extra = LISTED - len(agents.procs)
        if extra > 0:
            log(f"enrolling {extra} more (simulated, offline) agents so that {LISTED} are listed")
            subprocess.run(
                [
                    PY,
                    str(Path(__file__).parent / "simagents.py"),
                    "enroll",
                    "--server",
                    server.url,
                    "--code",
                    code,
                    "--count",
                    str(extra),
                    "--out",
                    str(args.state / "sim.jsonl"),
                ],
                check=True,
                capture_output=True,
            )
        helps, firsts, totals = [], [], []
        for _ in range(args.repeat):
            helps.append(timed([PY, "-m", "borealis", "--help"], env)[1])
            first, total, rc, out = timed([PY, "-m", "borealis", "agents"], env)
            if rc != 0 or len(out.splitlines()) != LISTED + 1:
                raise RuntimeError(f"agents: exit {rc}, {len(out.splitlines())} lines")
            firsts.append(first)
            totals.append(total)
        result["help_s"] = figures(helps)
        result["agents_first_line_s"] = figures(firsts)
        result["agents_total_s"] = figures(totals)
        result["load_after"] = os.getloadavg()[0]
    finally:
        agents.kill()
        server.stop()
    emit(result)


if __name__ == "__main__":
    main()
