"""End to end: a role module uploaded through the API reaches running agents and runs jobs, with no
agent restart; newer versions replace it; tags decide who gets it; withdrawal removes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.agent.agent_process import AgentProcess
from tests.agent.test_agent_online import online_agent, status_of
from tests.agent.test_jobs_e2e import finished_job
from tests.agent.test_server_roles import example
from tests.conftest import ServerProcess
from tests.support import wait_for

pytestmark = pytest.mark.slow


def upload(server: ServerProcess, body: str, **fields: Any) -> dict[str, Any]:
    with server.api as api:
        answer = api.post("/api/v1/roles", json={"name": "echo", "body": body, **fields})
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def echo_job(server: ServerProcess, agent_id: str, text: str) -> dict[str, Any]:
    with server.api as api:
        answer = api.post(
            "/api/v1/jobs",
            json={
                "role": "echo",
                "params": {"text": text},
                "target": {"agents": [agent_id]},
                "timeout_s": 20,
            },
        )
    assert answer.status_code == 201, answer.text
    (row,) = finished_job(server, answer.json()["id"])["results"]
    return dict(row)


def report_of(server: ServerProcess, agent_id: str) -> dict[str, Any] | None:
    with server.api as api:
        agents = api.get("/api/v1/roles/echo").json()["agents"]
    return next((dict(a) for a in agents if a["agent_id"] == agent_id), None)


def test_an_uploaded_role_reaches_running_and_later_agents_and_runs_jobs(
    server: ServerProcess, agents: Callable[..., AgentProcess]
) -> None:
    running = online_agent(server, agents)
    worker = running.worker_pid()
    upload(server, example("a"))
    wait_for(lambda: (r := report_of(server, running.agent_id)) and r["ok"] and r["version"] == 1, 15)
    row = echo_job(server, running.agent_id, "hello")
    assert row["status"] == "succeeded" and row["stdout"] == "hello\n", row
    assert row["data"] == {"version": "a"}

    upload(server, example("b"))
    wait_for(lambda: (r := report_of(server, running.agent_id)) and r["version"] == 2, 15)
    assert echo_job(server, running.agent_id, "again")["data"] == {"version": "b"}
    assert running.worker_pid() == worker, "no restart"

    later = online_agent(server, agents)  # connects after the upload: gets the current version
    wait_for(lambda: (r := report_of(server, later.agent_id)) and r["version"] == 2, 15)
    assert echo_job(server, later.agent_id, "late")["status"] == "succeeded"

    with server.api as api:
        assert api.delete("/api/v1/roles/echo").status_code == 204
    wait_for(lambda: (r := report_of(server, running.agent_id)) and r["removed"], 15)
    gone = echo_job(server, running.agent_id, "x")
    assert gone["status"] == "failed" and "unknown role 'echo'" in gone["error"]


def test_a_role_for_a_tag_reaches_only_the_agents_with_it(
    server: ServerProcess, agents: Callable[..., AgentProcess]
) -> None:
    tagged = agents()
    assert tagged.enroll(server.install_code(tags=("lab",))).returncode == 0
    tagged.start()
    plain = online_agent(server, agents)
    wait_for(lambda: status_of(server, tagged.agent_id) == "online", 15)
    upload(server, example("a"), target={"tags": ["lab"]})
    wait_for(lambda: (r := report_of(server, tagged.agent_id)) and r["ok"], 15)
    assert echo_job(server, tagged.agent_id, "in the lab")["status"] == "succeeded"
    assert report_of(server, plain.agent_id) is None
    assert "unknown role 'echo'" in echo_job(server, plain.agent_id, "x")["error"]
