"""The schedules API in-process: create, read, list, replace with version conflicts, enable/disable,
delete, preview (DST in the schedule's zone), audit entries, scopes, and bad input that names its field."""

from __future__ import annotations

from typing import Any

import pytest

from borealis.server.state import app_state
from tests.conftest import App, admin_token
from tests.server.fleet import enrolled_agent

SCRIPT = {"language": "bash", "script": "echo scheduled"}


def job_action(agent_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "job",
        "job": {"role": "script", "params": SCRIPT, "target": {"agents": [agent_id]}, **extra},
    }


async def create(app: App, token: str | None = None, **body: Any) -> Any:
    return await app.client.post("/api/v1/schedules", json=body, headers=app.auth(token))


async def test_create_read_replace_and_delete(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    response = await create(
        app,
        name="nightly",
        cron="0 3 * * *",
        timezone="Europe/Berlin",
        misfire="run_once",
        grace_s=120,
        overlap="skip",
        action=job_action(agent.agent_id, timeout_s=60),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "active" and created["version"] == 1
    assert created["owner"] == f"token:{app.token.split('_')[1]}" and created["run_count"] == 0
    assert created["action"]["job"]["target"] == {"agents": [agent.agent_id]}
    assert created["next_run_at"].endswith(("T02:00:00Z", "T01:00:00Z"))  # 03:00 in Berlin
    schedule_id = created["id"]

    listed = (await app.client.get("/api/v1/schedules", headers=app.auth())).json()
    assert [item["id"] for item in listed["items"]] == [schedule_id] and listed["next_cursor"] is None
    one = (await app.client.get(f"/api/v1/schedules/{schedule_id}", headers=app.auth())).json()
    assert one == created

    change = {
        "version": 1,
        "name": "every five minutes",
        "cron": "*/5 * * * *",
        "timezone": "UTC",
        "action": job_action(agent.agent_id),
    }
    replaced = await app.client.put(f"/api/v1/schedules/{schedule_id}", json=change, headers=app.auth())
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2 and replaced.json()["cron"] == "*/5 * * * *"
    assert replaced.json()["misfire"] == "skip"  # PUT replaces: what is left out takes its default
    stale = await app.client.put(f"/api/v1/schedules/{schedule_id}", json=change, headers=app.auth())
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert "version 2" in stale.json()["detail"]

    disabled = await app.client.post(f"/api/v1/schedules/{schedule_id}/disable", headers=app.auth())
    assert disabled.json()["status"] == "disabled" and disabled.json()["version"] == 3
    enabled = await app.client.post(f"/api/v1/schedules/{schedule_id}/enable", headers=app.auth())
    assert enabled.json()["status"] == "active" and enabled.json()["next_run_at"]

    assert (
        await app.client.delete(f"/api/v1/schedules/{schedule_id}", headers=app.auth())
    ).status_code == 204
    gone = await app.client.get(f"/api/v1/schedules/{schedule_id}", headers=app.auth())
    assert gone.status_code == 404
    assert (
        await app.client.get(f"/api/v1/schedules/{schedule_id}/runs", headers=app.auth())
    ).status_code == 404

    audit = (await app.client.get("/api/v1/audit", params={"target": schedule_id}, headers=app.auth())).json()
    assert [entry["action"] for entry in audit["items"]] == [
        "schedule.delete",
        "schedule.enable",
        "schedule.disable",
        "schedule.update",
        "schedule.create",
    ]


async def test_preview_follows_the_zone_across_dst(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    response = await create(
        app, name="dst", cron="30 2 * * *", timezone="Europe/Berlin", action=job_action(agent.agent_id)
    )
    schedule_id = response.json()["id"]
    spring = await app.client.get(
        f"/api/v1/schedules/{schedule_id}/preview",
        params={"count": 3, "after": "2027-03-27T12:00:00Z"},
        headers=app.auth(),
    )
    assert spring.status_code == 200, spring.text
    assert [item["local"] for item in spring.json()["items"]] == [
        "2027-03-28T03:00:00+02:00",  # 02:30 does not exist that day: the first instant after the gap
        "2027-03-29T02:30:00+02:00",
        "2027-03-30T02:30:00+02:00",
    ]
    autumn = await app.client.get(
        f"/api/v1/schedules/{schedule_id}/preview",
        params={"count": 2, "after": "2027-10-30T12:00:00Z"},
        headers=app.auth(),
    )
    assert [item["at"] for item in autumn.json()["items"]] == [
        "2027-10-31T00:30:00Z",  # 02:30 happens twice: only the first (CEST) fires
        "2027-11-01T01:30:00Z",
    ]
    naive = await app.client.get(
        f"/api/v1/schedules/{schedule_id}/preview",
        params={"after": "2026-10-24T12:00:00"},
        headers=app.auth(),
    )
    assert naive.status_code == 422
    capped = await app.client.get(f"/api/v1/schedules/{schedule_id}/preview?count=101", headers=app.auth())
    assert capped.status_code == 422


async def test_a_timing_not_saved_yet_is_previewed_as_a_saved_one_would_be(app: App) -> None:
    body = {"cron": "30 2 * * *", "timezone": "Europe/Berlin", "count": 3, "after": "2027-03-27T12:00:00Z"}
    draft = await app.client.post("/api/v1/schedules/preview", json=body, headers=app.auth())
    assert draft.status_code == 200, draft.text
    assert draft.json()["timezone"] == "Europe/Berlin"
    assert [item["local"] for item in draft.json()["items"]] == [
        "2027-03-28T03:00:00+02:00",
        "2027-03-29T02:30:00+02:00",
        "2027-03-30T02:30:00+02:00",
    ]
    every = await app.client.post(
        "/api/v1/schedules/preview",
        json={
            "interval_s": 90,
            "start_at": "2027-01-01T00:00:00Z",
            "after": "2027-01-01T00:00:00Z",
            "count": 2,
        },
        headers=app.auth(),
    )
    assert [item["at"] for item in every.json()["items"]] == ["2027-01-01T00:01:30Z", "2027-01-01T00:03:00Z"]
    bad = await app.client.post("/api/v1/schedules/preview", json={"cron": "61 * * * *"}, headers=app.auth())
    assert bad.status_code == 400 and bad.json()["field"] == "cron"
    both = await app.client.post(
        "/api/v1/schedules/preview", json={"cron": "* * * * *", "interval_s": 60}, headers=app.auth()
    )
    assert both.status_code == 400
    zone = await app.client.post(
        "/api/v1/schedules/preview", json={"cron": "* * * * *", "timezone": "Mars/Base"}, headers=app.auth()
    )
    assert zone.status_code == 400 and zone.json()["field"] == "timezone"
    too_many = await app.client.post(
        "/api/v1/schedules/preview", json={"cron": "@daily", "count": 101}, headers=app.auth()
    )
    assert too_many.status_code == 422
    nobody = await app.client.post("/api/v1/schedules/preview", json={"cron": "@daily"})
    assert nobody.status_code == 401


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"cron": "61 * * * *"}, 400, "cron"),
        ({"cron": "* * * *"}, 400, "cron"),
        ({"cron": "0 0 30 2 *"}, 400, "cron"),
        ({"cron": "x" * 129}, 422, "cron"),
        ({"cron": None}, 400, "cron"),
        ({"interval_s": 10}, 400, "cron"),
        ({"cron": None, "interval_s": 0}, 422, "interval_s"),
        ({"timezone": "Mars/Olympus"}, 400, "timezone"),
        ({"timezone": "../../etc/passwd"}, 400, "timezone"),
        ({"start_at": "2030-01-01T00:00:00"}, 422, "start_at"),
        ({"start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}, 400, "end_at"),
        ({"end_at": "2001-01-01T00:00:00Z"}, 400, "end_at"),
        ({"max_runs": 0}, 422, "max_runs"),
        ({"misfire": "sometimes"}, 422, "misfire"),
        ({"overlap": "maybe"}, 422, "overlap"),
        ({"grace_s": -1}, 422, "grace_s"),
        ({"grace_s": 10**9}, 422, "grace_s"),
        ({"name": ""}, 422, "name"),
        ({"surprise": 1}, 422, "surprise"),
        ({"action": {"type": "launch"}}, 422, "action"),
        (
            {"action": {"type": "job", "job": {"role": "nope", "target": {"all": True}}}},
            400,
            "action.job.role",
        ),
        (
            {"action": {"type": "job", "job": {"role": "script", "params": {}, "target": {"all": True}}}},
            400,
            "action.job.params.language",
        ),
        (
            {"action": {"type": "job", "job": {"role": "script", "params": SCRIPT}}},
            422,
            "action.job.job.target",
        ),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    app: App, change: dict[str, Any], status: int, field: str
) -> None:
    body: dict[str, Any] = {
        "name": "bad",
        "cron": "* * * * *",
        "action": {"type": "job", "job": {"role": "script", "params": SCRIPT, "target": {"all": True}}},
        **change,
    }
    response = await app.client.post("/api/v1/schedules", json=body, headers=app.auth())
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    fields = [problem.get("field")] + [error["field"] for error in problem.get("errors", [])]
    assert any(str(name).startswith(field) for name in fields if name), problem


async def test_a_job_schedule_needs_jobs_run_and_viewers_only_read(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    writer = await admin_token(app.settings, ("schedules:write", "schedules:read"), name="writer")
    refused = await create(app, writer, name="x", interval_s=60, action=job_action(agent.agent_id))
    assert refused.status_code == 403
    assert "jobs:run" in refused.json()["detail"]
    runner = await admin_token(app.settings, ("schedules:write", "jobs:run"), name="runner")
    made = await create(app, runner, name="x", interval_s=60, action=job_action(agent.agent_id))
    assert made.status_code == 201 and made.json()["owner"] == f"token:{runner.split('_')[1]}"
    reader = await admin_token(app.settings, ("schedules:read",), name="reader")
    schedule_id = made.json()["id"]
    assert (
        await app.client.get(f"/api/v1/schedules/{schedule_id}", headers=app.auth(reader))
    ).status_code == 200
    assert (
        await app.client.post(f"/api/v1/schedules/{schedule_id}/disable", headers=app.auth(reader))
    ).status_code == 403


async def test_workflow_schedules_are_refused_while_workflows_are_not_available(app: App) -> None:
    app_state(app.app).schedules.starter = None
    response = await create(
        app, name="wf", interval_s=60, action={"type": "workflow", "workflow_id": "w1", "input": {"a": 1}}
    )
    assert response.status_code == 409, response.text
    assert "workflows are not available" in response.json()["detail"]
    big = await create(
        app,
        name="wf",
        interval_s=60,
        action={"type": "workflow", "workflow_id": "w1", "input": {"a": "x" * 70_000}},
    )
    assert big.status_code in (413, 422)


async def test_the_number_of_schedules_is_bounded(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    service = app_state(app.app).schedules
    monkeypatch.setattr(service, "settings", replace(service.settings, max_schedules=2))
    agent = await enrolled_agent(app.client, app.auth())
    for _ in range(2):
        assert (
            await create(app, name="n", interval_s=3600, action=job_action(agent.agent_id))
        ).status_code == 201
    over = await create(app, name="n", interval_s=3600, action=job_action(agent.agent_id))
    assert over.status_code == 409 and "limit" in over.json()["detail"]
