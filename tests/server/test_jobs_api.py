"""Submitting jobs in-process (no agent connects, so rows stay queued): targets resolve once to active
agents, and bad requests get a 4xx problem body naming what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import App, admin_token
from tests.server.fleet import enrolled_agent

SCRIPT = {"language": "bash", "script": "echo hi"}


async def post_job(app: App, token: str | None = None, **body: Any) -> Any:
    return await app.client.post("/api/v1/jobs", json=body, headers=app.auth(token))


async def test_targets_resolve_to_active_agents_by_id_tag_or_all(app: App) -> None:
    web = [
        await enrolled_agent(app.client, app.auth(), hostname=f"web-{i}", tags=("web", "prod"))
        for i in range(3)
    ]
    db = await enrolled_agent(app.client, app.auth(), hostname="db", tags=("db", "prod"))
    pending = await enrolled_agent(
        app.client, app.auth(), hostname="new", approval_required=True, tags=("web",)
    )
    revoked = await enrolled_agent(app.client, app.auth(), hostname="old", tags=("web", "prod"))
    assert (
        await app.client.post(f"/api/v1/agents/{revoked.agent_id}/revoke", headers=app.auth())
    ).status_code == 200

    async def targeted(target: dict[str, Any]) -> tuple[set[str], dict[str, Any]]:
        response = await post_job(app, role="script", params=SCRIPT, target=target)
        assert response.status_code == 201, response.text
        job = (await app.client.get(f"/api/v1/jobs/{response.json()['id']}", headers=app.auth())).json()
        assert all(row["status"] == "queued" for row in job["results"])
        return {row["agent_id"] for row in job["results"]}, response.json()

    web_ids = {a.agent_id for a in web}
    assert (await targeted({"tags": ["web"]}))[0] == web_ids
    assert (await targeted({"tags": ["WEB", "prod"]}))[0] == web_ids  # every tag, matched lower-case
    assert (await targeted({"tags": ["prod"]}))[0] == web_ids | {db.agent_id}
    assert (await targeted({"all": True}))[0] == web_ids | {db.agent_id}
    ids, body = await targeted({"agents": [db.agent_id, pending.agent_id, revoked.agent_id, db.agent_id]})
    assert ids == {db.agent_id} and body["agent_count"] == 1
    assert sorted(body["skipped"]) == sorted([pending.agent_id, revoked.agent_id])

    listed = (await app.client.get("/api/v1/jobs", params={"limit": 2}, headers=app.auth())).json()
    assert len(listed["items"]) == 2 and listed["next_cursor"]
    assert listed["items"][0]["target"] == {
        "agents": [db.agent_id, pending.agent_id, revoked.agent_id, db.agent_id]
    }
    older = (
        await app.client.get("/api/v1/jobs", params={"cursor": listed["next_cursor"]}, headers=app.auth())
    ).json()
    assert len(older["items"]) == 3 and older["next_cursor"] is None
    assert all(item["status"] == "queued" for item in listed["items"] + older["items"])
    job_id = older["items"][-1]["id"]  # the first one: {tags: [web]}
    queued = await app.client.get(f"/api/v1/jobs/{job_id}", params={"status": "queued"}, headers=app.auth())
    assert {row["agent_id"] for row in queued.json()["results"]} == web_ids
    failed = await app.client.get(f"/api/v1/jobs/{job_id}", params={"status": "failed"}, headers=app.auth())
    assert failed.json()["results"] == [] and failed.json()["counts"]["queued"] == 3
    bogus = await app.client.get(f"/api/v1/jobs/{job_id}", params={"status": "nope"}, headers=app.auth())
    assert bogus.status_code == 422


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"role": "nope", "params": {}, "target": {"all": True}}, 400, "role"),
        (
            {"role": "script", "params": {"language": "cobol", "script": "x"}, "target": {"all": True}},
            400,
            "params.language",
        ),
        (
            {
                "role": "script",
                "params": {"language": "bash", "script": "x" * 300_000},
                "target": {"all": True},
            },
            413,
            "params.script",
        ),
        (
            {"role": "script", "params": {"language": "bash", "script": "  "}, "target": {"all": True}},
            400,
            "params.script",
        ),
        ({"role": "script", "params": {"language": "bash"}, "target": {"all": True}}, 400, "params.script"),
        ({"role": "script", "params": {**SCRIPT, "args": "x"}, "target": {"all": True}}, 400, "params.args"),
        (
            {"role": "script", "params": {**SCRIPT, "env": {"A B": "x"}}, "target": {"all": True}},
            400,
            "params.env",
        ),
        ({"role": "script", "params": {**SCRIPT, "shell": "x"}, "target": {"all": True}}, 400, "params"),
        ({"role": "script", "params": {**SCRIPT, "script_id": "x"}, "target": {"all": True}}, 400, "params"),
        (
            {"role": "script", "params": {"script_id": "0" * 32}, "target": {"all": True}},
            400,
            "params.script_id",
        ),
        ({"role": "script", "params": SCRIPT, "target": {"tags": ["nobody"]}}, 400, "target"),
        ({"role": "script", "params": SCRIPT, "target": {"agents": ["0" * 32]}}, 400, "target.agents"),
        ({"role": "script", "params": SCRIPT, "target": {}}, 400, "target"),
        ({"role": "script", "params": SCRIPT, "target": {"all": True, "tags": ["x"]}}, 400, "target"),
        ({"role": "script", "params": SCRIPT, "target": {"all": True}, "run_as": "root"}, 422, "run_as"),
        ({"role": "script", "params": SCRIPT, "target": {"all": True}, "timeout_s": 0}, 422, "timeout_s"),
        (
            {"role": "script", "params": SCRIPT, "target": {"all": True}, "batch_percent": 101},
            422,
            "batch_percent",
        ),
    ],
)
async def test_bad_job_requests_get_a_problem_naming_the_field(
    app: App, body: dict[str, Any], status: int, field: str
) -> None:
    await enrolled_agent(app.client, app.auth(), tags=("lab",))
    response = await post_job(app, **body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    named = problem.get("field") or ",".join(e["field"] for e in problem.get("errors", []))
    assert named == field, problem
    assert (await app.client.get("/api/v1/jobs", headers=app.auth())).json()["items"] == []


async def test_the_empty_fleet_is_an_empty_target(app: App) -> None:
    response = await post_job(app, role="health", params={}, target={"all": True})
    assert response.status_code == 400 and "matches no active agent" in response.json()["detail"]


async def test_jobs_need_their_scopes(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    reader = await admin_token(app.settings, ("jobs:read",), name="reader")
    response = await post_job(app, reader, role="script", params=SCRIPT, target={"agents": [agent.agent_id]})
    assert response.status_code == 403 and "jobs:run" in response.json()["detail"]
    runner = await admin_token(app.settings, ("jobs:run",), name="runner")
    response = await post_job(app, runner, role="script", params=SCRIPT, target={"agents": [agent.agent_id]})
    assert response.status_code == 201
    job_id = response.json()["id"]
    assert (await app.client.get(f"/api/v1/jobs/{job_id}", headers=app.auth(reader))).status_code == 200
    assert (await app.client.get(f"/api/v1/jobs/{job_id}", headers=app.auth(runner))).status_code == 403
    cancelled = await app.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=app.auth(runner))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    actions = [
        e["action"] for e in (await app.client.get("/api/v1/audit", headers=app.auth())).json()["items"]
    ]
    assert "job.submit" in actions and "job.cancel" in actions
    assert (await app.client.get(f"/api/v1/jobs/{'0' * 32}", headers=app.auth())).status_code == 404


async def test_metrics_count_job_rows_by_state_and_the_queue(app: App) -> None:
    agents = [await enrolled_agent(app.client, app.auth()) for _ in range(2)]
    body = {
        "role": "script",
        "params": {"language": "sh", "script": "true"},
        "target": {"agents": [agent.agent_id for agent in agents]},
    }
    assert (await app.client.post("/api/v1/jobs", json=body, headers=app.auth())).status_code == 201
    text = (await app.client.get("/metrics", headers=app.auth())).text
    assert 'borealis_job_results{state="queued"} 2' in text  # both agents are offline: the rows wait
    assert 'borealis_job_results{state="succeeded"} 0' in text
    assert "borealis_job_queue_depth 2" in text
