"""End to end: `run_as: user` jobs through the real server, a real agent, and a helper it starts as a
real (test-made) user."""

from __future__ import annotations

import pwd
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from tests.agent.agent_process import AgentProcess
from tests.agent.test_agent_online import online_agent
from tests.agent.test_jobs_e2e import finished_job
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow


def submit(server: ServerProcess, agent_id: str, language: str, script: str) -> str:
    with server.api as api:
        answer = api.post(
            "/api/v1/jobs",
            json={
                "role": "script",
                "params": {"language": language, "script": script},
                "run_as": "user",
                "target": {"agents": [agent_id]},
                "timeout_s": 30,
                "expires_in_s": 300,
            },
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def helpers_of(uid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["uids", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if (
            process.info["uids"]
            and process.info["uids"].real == uid
            and "borealis.agent.user_session.helper" in cmdline
        ):
            found.append(process)
    return found


def test_a_user_job_runs_as_the_logged_in_user_through_a_helper_the_agent_started(
    server: ServerProcess, agents: Callable[..., AgentProcess], test_user: str
) -> None:
    agent = online_agent(server, agents, helper_user=test_user)
    job = finished_job(
        server, submit(server, agent.agent_id, "bash", 'id -un; echo "home=$HOME"'), timeout=45
    )
    (row,) = job["results"]
    assert row["status"] == "succeeded", row
    lines = row["stdout"].splitlines()
    assert lines[0] == test_user
    assert lines[1] == f"home={pwd.getpwnam(test_user).pw_dir}"

    # Python scripts too, although the agent's own interpreter is not the user's to run.
    job = finished_job(
        server, submit(server, agent.agent_id, "python", "import getpass; print(getpass.getuser())")
    )
    (row,) = job["results"]
    assert row["status"] == "succeeded" and row["stdout"].strip() == test_user, row

    uid = pwd.getpwnam(test_user).pw_uid
    (helper,) = helpers_of(uid)  # one helper for the session, not one per job
    assert helper.uids().effective == uid and helper.uids().saved == uid
    assert "serving the session" in (agent.home.agent_logs / f"helper-{test_user}.log").read_text()

    agent.stop()
    wait_for(lambda: not helpers_of(uid), 10, what="the helper to exit with the agent")


def test_a_user_job_with_nobody_logged_in_fails_at_once_with_the_reason(
    server: ServerProcess, agents: Callable[..., AgentProcess]
) -> None:
    agent = online_agent(server, agents)
    job: dict[str, Any] = finished_job(server, submit(server, agent.agent_id, "bash", "id -un"), timeout=20)
    (row,) = job["results"]
    if row["status"] == "succeeded":
        pytest.skip("someone is logged in on this machine")
    assert row["status"] == "failed"
    assert "no user is logged in" in row["error"]
