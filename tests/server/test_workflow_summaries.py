"""The console's workflows list: triggers, schedules with their next time, last run and run counts."""

from __future__ import annotations

from tests.conftest import App, admin_token
from tests.server.test_workflows import create, finished, node


async def test_each_workflow_shows_its_triggers_schedules_last_run_and_counts(app: App) -> None:
    document = {
        "nodes": [
            node("start", "trigger.manual"),
            node("hook", "trigger.webhook"),
            node("poll", "trigger.poll", {"url": "https://example.invalid/items", "interval_s": 60}),
            node("set", "data.set", {"values": {"ok": True}}),
        ],
        "edges": [{"id": "e1", "source": "start", "target": "set"}],
    }
    busy = await create(app, document, name="busy")
    idle = await create(app, {"nodes": [node("start", "trigger.manual")], "edges": []}, name="idle")
    for _ in range(2):
        started = await app.client.post(
            f"/api/v1/workflows/{busy['id']}/runs", json={"input": {}, "node_id": "start"}, headers=app.auth()
        )
        assert started.status_code == 201, started.text
        last = await finished(app, started.json()["id"])
    schedule = await app.client.post(
        "/api/v1/schedules",
        json={
            "name": "hourly",
            "interval_s": 3600,
            "action": {"type": "workflow", "workflow_id": busy["id"]},
        },
        headers=app.auth(),
    )
    assert schedule.status_code == 201, schedule.text

    reader = await admin_token(app.settings, ("workflows:read",), name="reader")
    response = await app.client.get("/api/v1/workflow-summaries", headers=app.auth(reader))
    assert response.status_code == 200, response.text
    items = {item["name"]: item for item in response.json()["items"]}
    shown = items["busy"]
    assert [(t["node_id"], t["type"]) for t in shown["triggers"]] == [
        ("start", "trigger.manual"),
        ("hook", "trigger.webhook"),
        ("poll", "trigger.poll"),
    ]
    assert shown["triggers"][2]["interval_s"] == 60
    assert shown["runs"] == {last["status"]: 2, "total": 2}
    assert shown["last_run"]["id"] == last["id"]
    assert [s["name"] for s in shown["schedules"]] == ["hourly"]
    assert shown["schedules"][0]["next_run_at"] is not None
    assert items["idle"]["last_run"] is None and items["idle"]["runs"] == {"total": 0}
    assert items["idle"]["id"] == idle["id"]

    page = await app.client.get("/api/v1/workflow-summaries", params={"limit": 1}, headers=app.auth())
    assert len(page.json()["items"]) == 1 and page.json()["next_cursor"]
    assert (
        await app.client.get("/api/v1/workflow-summaries", params={"limit": 0}, headers=app.auth())
    ).status_code == 422
    jobs_only = await admin_token(app.settings, ("jobs:read",), name="jobs")
    assert (
        await app.client.get("/api/v1/workflow-summaries", headers=app.auth(jobs_only))
    ).status_code == 403
