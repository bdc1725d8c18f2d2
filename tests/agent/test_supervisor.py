"""The supervisor around fake workers (real processes): restarts and their reasons, and stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from borealis.agent.service.supervisor_state import (
    MAX_RESTARTS_KEPT,
    Restart,
    RestartReason,
    SupervisorRecord,
    read_record,
)
from borealis.core.home import Home
from borealis.core.settings import update_toml
from tests.support import wait_for

RUNNER = Path(__file__).with_name("run_fake_supervisor.py")
FAST = {
    "internal_heartbeat_s": 0.2,
    "hang_timeout_s": 1.0,
    "backoff_base_s": 0.1,
    "restart_backoff_cap_s": 0.3,
    "stop_timeout_s": 5.0,
}


class FakeSupervised:
    def __init__(self, root: Path, mode: str, **settings: Any) -> None:
        self.home = Home(root)
        update_toml(self.home.agent_toml, **{**FAST, **settings})
        self.ready = root / "ready"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "FAKE_WORKER_READY": str(self.ready)}
        self.proc = subprocess.Popen([sys.executable, str(RUNNER), str(root), mode], env=env)

    def ready_worker(self) -> int:
        """The pid of a worker that has installed its signal handlers."""

        def ready_pid() -> int | None:
            pid = self.worker_pid()
            ready = self.ready.read_text().split() if self.ready.exists() else []
            return pid if pid is not None and str(pid) in ready else None

        return wait_for(ready_pid, 10, what="a ready worker")

    def record(self) -> SupervisorRecord | None:
        return read_record(self.home)

    def worker_pid(self) -> int | None:
        record = self.record()
        return record.worker_pid if record else None

    def restarts_with(self, reason: RestartReason) -> list[Restart]:
        record = self.record()
        return [r for r in record.last_restarts if r.reason is reason] if record else []

    def log(self) -> str:
        path = self.home.agent_logs / "supervisor.log"
        return path.read_text() if path.exists() else ""

    def close(self) -> None:
        pid = self.worker_pid()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Any]:
    started: list[FakeSupervised] = []

    def start(mode: str, **settings: Any) -> FakeSupervised:
        started.append(FakeSupervised(tmp_path / f"home{len(started)}", mode, **settings))
        return started[-1]

    try:
        yield start
    finally:
        for item in started:
            item.close()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_record_keeps_a_bounded_list_of_restarts() -> None:
    record = SupervisorRecord(pid=1, started_at="t")
    for i in range(MAX_RESTARTS_KEPT + 5):
        record.add_restart(Restart(at=str(i), reason=RestartReason.CRASHED, detail="exit code 1"))
    assert record.restarts == MAX_RESTARTS_KEPT + 5
    assert len(record.last_restarts) == MAX_RESTARTS_KEPT
    assert record.last_restarts[-1].at == str(MAX_RESTARTS_KEPT + 4)
    assert SupervisorRecord.from_json(record.to_json()) == record


@pytest.mark.slow
def test_a_crashing_worker_is_restarted_with_its_exit_code(supervised: Any) -> None:
    agent = supervised("crash")
    wait_for(lambda: len(agent.restarts_with(RestartReason.CRASHED)) >= 2, 15, what="two crash restarts")
    restarts = agent.restarts_with(RestartReason.CRASHED)
    assert restarts[0].detail == "exit code 3"
    assert restarts[0].worker_pid != restarts[1].worker_pid
    assert 'msg="restarting the worker"' in agent.log() and "reason=crashed" in agent.log()


@pytest.mark.slow
def test_a_killed_worker_is_restarted(supervised: Any) -> None:
    agent = supervised("beat")
    first = agent.ready_worker()
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: agent.worker_pid() not in (None, first), 10, what="a new worker")
    assert agent.restarts_with(RestartReason.CRASHED)[0].detail == "killed by SIGKILL"


@pytest.mark.slow
def test_a_silent_worker_is_killed_as_hung(supervised: Any) -> None:
    agent = supervised("silent")
    first = agent.ready_worker()
    wait_for(lambda: agent.restarts_with(RestartReason.HANG), 10, what="a hang restart")
    assert agent.restarts_with(RestartReason.HANG)[0].worker_pid == first
    assert gone(first)


@pytest.mark.slow
def test_a_worker_over_its_memory_budget_is_restarted(supervised: Any) -> None:
    agent = supervised("fat", memory_budget_mb=40)
    wait_for(lambda: agent.restarts_with(RestartReason.MEMORY), 10, what="a memory restart")
    assert "over the budget of 40 MiB" in agent.restarts_with(RestartReason.MEMORY)[0].detail


@pytest.mark.slow
def test_sigterm_stops_worker_and_supervisor_cleanly(supervised: Any) -> None:
    agent = supervised("beat")
    worker = agent.ready_worker()
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(10) == 0
    assert gone(worker)
    record = agent.record()
    assert record is not None and record.state == "stopped" and record.worker_pid is None
    assert record.restarts == 0


@pytest.mark.slow
def test_a_worker_that_ignores_sigterm_is_killed_after_the_stop_timeout(supervised: Any) -> None:
    agent = supervised("stubborn", stop_timeout_s=1.0)
    worker = agent.ready_worker()
    started = time.monotonic()
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(10) == 0
    assert 0.9 <= time.monotonic() - started < 5
    assert gone(worker)


@pytest.mark.slow
def test_a_second_signal_kills_at_once(supervised: Any) -> None:
    agent = supervised("stubborn", stop_timeout_s=60.0)
    worker = agent.ready_worker()
    agent.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: 'msg="stopping the worker"' in agent.log(), 10, what="the stop to begin")
    started = time.monotonic()
    agent.proc.send_signal(signal.SIGINT)
    assert agent.proc.wait(10) == 0
    assert time.monotonic() - started < 3
    assert gone(worker)


def test_the_supervisor_loads_no_async_network_or_crypto_library() -> None:
    """It must stay small (~20 MiB): what `agent run` itself needs imports none of these."""
    heavy = ("asyncio", "ssl", "websockets", "httpx", "cryptography", "uvloop")
    code = (
        "import sys, borealis.cli.agent_cmd, borealis.agent.service.supervisor;"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
