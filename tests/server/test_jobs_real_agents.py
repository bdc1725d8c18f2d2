"""Jobs with real processes on both ends: a `borealis server` and `borealis agent run` subprocesses.
What is checked is what an operator sees through the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.agent_process import AgentProcess
from tests.conftest import ServerProcess
from tests.server.test_jobs import job_server
from tests.support import wait_for

pytestmark = pytest.mark.slow
__all__ = ["job_server"]  # the fixture, shared with test_jobs


@pytest.fixture
def agent(tmp_path: Path, job_server: ServerProcess) -> Iterator[AgentProcess]:
    process = AgentProcess(tmp_path / "agent-home")
    enrolled = process.enroll(job_server.install_code())
    assert enrolled.returncode == 0, enrolled.stderr
    try:
        yield process
    finally:
        process.close()


def online(server: ServerProcess, agent: AgentProcess) -> None:
    agent.start()
    wait_for(lambda: server.agent(agent.agent_id)["status"] == "online", 20, what="the agent online")


def submit(server: ServerProcess, agent: AgentProcess, script: str, **fields: Any) -> str:
    body = {
        "role": "script",
        "params": {"language": "bash", "script": script},
        "target": {"agents": [agent.agent_id]},
        **fields,
    }
    with server.api as api:
        response = api.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def job(server: ServerProcess, job_id: str) -> dict[str, Any]:
    with server.api as api:
        response = api.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def row_when(server: ServerProcess, job_id: str, status: str, timeout: float = 20) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        [row] = job(server, job_id)["results"]
        return row if row["status"] == status else None

    found: dict[str, Any] = wait_for(reached, timeout, what=f"the row {status}")
    return found


def test_a_script_reports_its_real_exit_code_and_its_output_apart(
    job_server: ServerProcess, agent: AgentProcess
) -> None:
    online(job_server, agent)
    job_id = submit(job_server, agent, "echo hi; echo oops >&2; exit 3")
    row = row_when(job_server, job_id, "failed")
    assert row["exit_code"] == 3 and row["stdout"] == "hi\n" and row["stderr"] == "oops\n"
    assert row["started_at"] and row["finished_at"]
    assert job(job_server, job_id)["status"] == "failed"


def test_a_job_for_a_stopped_agent_runs_when_it_starts(
    job_server: ServerProcess, agent: AgentProcess
) -> None:
    job_id = submit(job_server, agent, "echo late")
    time.sleep(0.5)
    assert job(job_server, job_id)["results"][0]["status"] == "queued"
    online(job_server, agent)
    row = row_when(job_server, job_id, "succeeded")
    assert row["stdout"] == "late\n" and row["exit_code"] == 0


def test_the_result_of_a_job_running_while_the_server_died_arrives_once_after_a_restart(
    job_server: ServerProcess, agent: AgentProcess
) -> None:
    online(job_server, agent)
    job_id = submit(job_server, agent, "sleep 2; echo done")
    row_when(job_server, job_id, "running")
    job_server.kill()
    time.sleep(3)  # the job finishes while there is no server: the result waits in the outbox
    job_server.start()
    row = row_when(job_server, job_id, "succeeded")
    assert row["stdout"] == "done\n" and row["exit_code"] == 0
    assert len(job(job_server, job_id)["results"]) == 1


def test_cancelling_a_running_script_ends_it_as_cancelled(
    job_server: ServerProcess, agent: AgentProcess
) -> None:
    online(job_server, agent)
    job_id = submit(job_server, agent, "echo started; sleep 60; echo never")
    row_when(job_server, job_id, "running")
    with job_server.api as api:
        assert api.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    row = row_when(job_server, job_id, "cancelled", timeout=15)
    assert "never" not in row["stdout"]
    assert job(job_server, job_id)["status"] == "cancelled"


def test_a_drop_in_role_an_agent_reports_can_be_run_on_it(
    job_server: ServerProcess, agent: AgentProcess
) -> None:
    body = {"role": "echo", "params": {"text": "hey", "shout": True}, "target": {"agents": [agent.agent_id]}}
    with job_server.api as api:
        assert api.post("/api/v1/jobs", json=body).status_code == 400  # nobody reported `echo` yet
    agent.home.agent_roles.mkdir(parents=True, exist_ok=True)
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "role_echo.py"
    (agent.home.agent_roles / "role_echo.py").write_text(example.read_text())
    online(job_server, agent)

    def submitted() -> str | None:
        with job_server.api as api:
            response = api.post("/api/v1/jobs", json=body)
        return str(response.json()["id"]) if response.status_code == 201 else None

    job_id: str = wait_for(submitted, 15, what="the server to know the echo role from a heartbeat")
    row = row_when(job_server, job_id, "succeeded")
    assert row["stdout"] == "HEY\n" and row["data"] == {"version": "1"}
