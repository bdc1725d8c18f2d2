"""Self-update with real processes on both ends: a `borealis server`, `borealis agent run`, and agent
wheels built by the test. What is checked is what an operator sees through the API, and what is on
the agent's disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from borealis import __version__
from borealis.agent.self_update.state import interpreter, read_state, version_dir
from borealis.agent.service.supervisor_state import RestartReason, read_record
from borealis.protocol.agent_updates import CHUNK_BYTES
from tests.agent.agent_process import AgentProcess
from tests.agent.update_wheels import build_agent_wheel
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow
CONFIRM_S = 8.0


@pytest.fixture
def agent(tmp_path: Path, server: ServerProcess) -> Iterator[AgentProcess]:
    process = AgentProcess(tmp_path / "agent-home", update_confirm_s=CONFIRM_S)
    enrolled = process.enroll(server.install_code())
    assert enrolled.returncode == 0, enrolled.stderr
    process.start()
    wait_for(lambda: server.agent(process.agent_id)["status"] == "online", 20, what="the agent online")
    try:
        yield process
    finally:
        process.close()


def upload(server: ServerProcess, wheel: Path) -> dict[str, Any]:
    with server.api as api:
        response = api.post(
            "/api/v1/agent-versions", params={"filename": wheel.name}, content=wheel.read_bytes()
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def roll_out(server: ServerProcess, version: str, agent: AgentProcess) -> None:
    with server.api as api:
        response = api.post(
            f"/api/v1/agent-versions/{version}/rollout",
            json={"target": {"agents": [agent.agent_id]}, "batch_size": 1},
        )
    assert response.status_code == 202, response.text


def worker_from(agent: AgentProcess, version: str) -> int | None:
    """The worker's pid when it runs from the environment of `version`."""
    pid = agent.worker_pid()
    try:
        command = psutil.Process(pid).cmdline() if pid else []
    except psutil.Error:
        return None
    return pid if command and command[0] == str(interpreter(version_dir(agent.home, version))) else None


def row_when(server: ServerProcess, version: str, state: str, timeout: float = 60) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        with server.api as api:
            [row] = api.get(f"/api/v1/agent-versions/{version}/rollout").json()["agents"]
        assert row["state"] not in {"failed", "timed_out"} or row["state"] == state, row
        return row if row["state"] == state else None

    found: dict[str, Any] = wait_for(reached, timeout, 0.3, what=f"the agent's update {state}")
    return found


def test_an_offered_version_is_fetched_verified_installed_and_runs_after_the_switch(
    tmp_path: Path, server: ServerProcess, agent: AgentProcess
) -> None:
    wheel = build_agent_wheel(tmp_path, "0.9.1", padding_bytes=2 * CHUNK_BYTES)  # several chunks
    uploaded = upload(server, wheel)
    assert uploaded["size"] > 2 * CHUNK_BYTES

    roll_out(server, "0.9.1", agent)
    row = row_when(server, "0.9.1", "connected")

    assert row["from_version"] == __version__
    assert server.agent(agent.agent_id)["version"] == "0.9.1"
    env = version_dir(agent.home, "0.9.1")
    worker = psutil.Process(agent.wait_worker())
    assert worker.cmdline()[0] == str(interpreter(env)), "the worker runs from the new environment"
    wait_for(lambda: read_state(agent.home).trial is None, 15, what="the supervisor to keep the version")
    state = read_state(agent.home)
    assert (state.active, state.previous, state.rollback) == ("0.9.1", None, None)
    assert not (env.parent / ".downloads").exists() or not any((env.parent / ".downloads").iterdir())
    record = read_record(agent.home)
    assert record is not None
    assert record.last_restarts[-1].reason is RestartReason.UPDATE
    assert "switching to agent version 0.9.1" in record.last_restarts[-1].detail


def test_a_version_that_cannot_connect_is_rolled_back_and_the_old_one_reports_it(
    tmp_path: Path, server: ServerProcess, agent: AgentProcess
) -> None:
    upload(server, build_agent_wheel(tmp_path, "0.9.2", worker_exit_code=3))
    first_worker = agent.wait_worker()

    roll_out(server, "0.9.2", agent)
    row = row_when(server, "0.9.2", "rolled_back")

    assert "ended before it connected" in row["reason"] and "exit code 3" in row["reason"]
    wait_for(lambda: server.agent(agent.agent_id)["status"] == "online", 20, what="the old version online")
    assert server.agent(agent.agent_id)["version"] == __version__
    worker = psutil.Process(agent.wait_worker(other_than=first_worker))
    assert "/versions/" not in worker.cmdline()[0], "the worker runs from the original environment again"
    state = read_state(agent.home)
    assert state.active is None and state.trial is None
    assert state.rollback is not None and state.rollback.version == "0.9.2" and state.rollback.reported


def test_a_version_whose_worker_runs_but_never_connects_is_rolled_back_at_the_deadline(
    tmp_path: Path, server: ServerProcess, agent: AgentProcess
) -> None:
    upload(server, build_agent_wheel(tmp_path, "0.9.3", never_connects=True))

    roll_out(server, "0.9.3", agent)
    trial_worker = wait_for(lambda: worker_from(agent, "0.9.3"), 30, what="the worker of 0.9.3")
    row = row_when(server, "0.9.3", "rolled_back", timeout=CONFIRM_S + 40)

    assert row["reason"] == f"the new worker did not connect within {CONFIRM_S:g} s"
    assert (
        not psutil.pid_exists(trial_worker) or psutil.Process(trial_worker).status() == psutil.STATUS_ZOMBIE
    )
    assert server.agent(agent.agent_id)["version"] == __version__
    record = read_record(agent.home)
    assert record is not None
    assert "rolled back from agent version 0.9.3" in record.last_restarts[-1].detail
