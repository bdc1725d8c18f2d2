"""A real agent under test: `borealis agent …` subprocesses on a fresh home with fast settings."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from borealis.agent.service.supervisor_state import read_record
from borealis.core.home import Home
from borealis.core.settings import update_toml
from tests.agent.fakes import FAST_AGENT_SETTINGS
from tests.support import wait_for

BOREALIS = (sys.executable, "-m", "borealis")


def borealis(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BOREALIS, *args], capture_output=True, text=True, timeout=timeout)


class AgentProcess:
    def __init__(self, root: Path, **settings: Any) -> None:
        self.home = Home(root)
        self.settings = {**FAST_AGENT_SETTINGS, **settings}
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: set[int] = set()
        self.agent_id = ""

    def enroll(self, code: str, *extra: str) -> subprocess.CompletedProcess[str]:
        result = borealis("agent", "enroll", "--home", str(self.home.root), "--code", code, *extra)
        if result.returncode == 0:
            self.agent_id = result.stdout.strip()
            update_toml(self.home.agent_toml, **self.settings)
        return result

    def start(self) -> None:
        log = self.home.root / f"run-{time.monotonic_ns()}.out"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [*BOREALIS, "agent", "run", "--home", str(self.home.root), "--no-startup-delay"],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # like a terminal: `interrupt()` signals the whole group
            )
        self.pids.add(self.proc.pid)

    def status(self) -> dict[str, Any]:
        result = borealis("agent", "status", "--home", str(self.home.root), "--json")
        loaded: dict[str, Any] = json.loads(result.stdout)
        return loaded

    def worker_pid(self) -> int | None:
        record = read_record(self.home)
        pid = record.worker_pid if record else None
        if pid is not None:
            self.pids.add(pid)
        return pid

    def wait_worker(self, other_than: int | None = None, timeout: float = 15.0) -> int:
        return wait_for(
            lambda: (pid := self.worker_pid()) is not None and pid != other_than and pid,
            timeout,
            what="a (new) worker",
        )

    def log(self, name: str = "agent") -> str:
        path = self.home.agent_logs / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def stop(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def interrupt(self, timeout: float = 15.0) -> int:
        """Ctrl-C on the terminal: SIGINT to every process in the foreground group."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the supervisor and its worker, as a power cut would."""
        assert self.proc is not None
        worker = self.worker_pid()
        self.proc.kill()
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(psutil.Error):
                self.pids.update(c.pid for c in psutil.Process(self.proc.pid).children(recursive=True))
        self.worker_pid()
        for pid in self.pids:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.wait(10)
