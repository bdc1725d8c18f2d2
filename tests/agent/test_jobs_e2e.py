"""End to end: a script job through the real server's API, run by a real agent process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from borealis.protocol.jobs import FINAL_STATES
from tests.agent.agent_process import AgentProcess
from tests.agent.test_agent_online import online_agent
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow
FINAL = {state.value for state in FINAL_STATES}


def submit_script(server: ServerProcess, agent_id: str, script: str, timeout_s: int = 30) -> str:
    """POST a bash script job for one agent through the API; returns the job id."""
    with server.api as api:
        answer = api.post(
            "/api/v1/jobs",
            json={
                "role": "script",
                "params": {"language": "bash", "script": script},
                "run_as": "system",
                "target": {"agents": [agent_id]},
                "timeout_s": timeout_s,
                "expires_in_s": 300,
            },
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def finished_job(server: ServerProcess, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        with server.api as api:
            body: dict[str, Any] = api.get(f"/api/v1/jobs/{job_id}").json()
        rows = body.get("results") or []
        return body if rows and all(r["status"] in FINAL for r in rows) else None

    return wait_for(final, timeout, 0.2, what=f"job {job_id} to finish")


def test_a_script_through_the_api_reports_output_and_the_real_exit_code(
    server: ServerProcess, agents: Callable[..., AgentProcess]
) -> None:
    agent = online_agent(server, agents)
    job_id = submit_script(server, agent.agent_id, "echo hi; echo err >&2; exit 3", timeout_s=30)
    job = finished_job(server, job_id)
    (row,) = job["results"]
    assert row["agent_id"] == agent.agent_id
    assert row["status"] == "failed" and row["exit_code"] == 3
    assert row["stdout"].rstrip("\n") == "hi" and row["stderr"].rstrip("\n") == "err"
    assert row["started_at"] and row["finished_at"]
    assert list((agent.home.agent / "tmp").iterdir()) == []


def test_a_script_past_its_timeout_ends_timed_out_through_the_api(
    server: ServerProcess, agents: Callable[..., AgentProcess]
) -> None:
    agent = online_agent(server, agents)
    job_id = submit_script(server, agent.agent_id, "echo started; sleep 30", timeout_s=1)
    (row,) = finished_job(server, job_id)["results"]
    assert row["status"] == "timed_out" and row["stdout"].rstrip("\n") == "started"


def test_a_result_finished_while_the_server_was_down_arrives_once_after_it_restarts(
    server: ServerProcess, agents: Callable[..., AgentProcess]
) -> None:
    agent = online_agent(server, agents)
    job_id = submit_script(server, agent.agent_id, "sleep 2; echo done", timeout_s=30)

    def running() -> bool:
        with server.api as api:
            rows = api.get(f"/api/v1/jobs/{job_id}").json()["results"]
        return bool(rows) and rows[0]["status"] == "running"

    wait_for(running, 15, 0.1, what="the job running")
    server.kill()
    wait_for(lambda: agent.status()["outbox_pending"] >= 1, 15, what="the result waiting in the outbox")
    server.start()
    (row,) = finished_job(server, job_id)["results"]
    assert row["status"] == "succeeded" and row["stdout"].rstrip("\n") == "done"
    wait_for(lambda: agent.status()["outbox_pending"] == 0, 15, what="the outbox emptied by acks")
