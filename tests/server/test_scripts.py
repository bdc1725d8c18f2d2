"""The script library: every change is a new version, old versions stay readable, a change made from a
stale version is a 409, and a job can name a library script (the body it runs is resolved at submit)."""

from __future__ import annotations

from typing import Any

from tests.conftest import App
from tests.server.fleet import enrolled_agent


async def create(app: App, **fields: Any) -> Any:
    body = {"name": "disk report", "language": "bash", "body": "df -h", **fields}
    return await app.client.post("/api/v1/scripts", json=body, headers=app.auth())


async def test_versions_conflicts_and_deletion(app: App) -> None:
    created = await create(app, parameters={"path": {"type": "string"}}, description="disks")
    assert created.status_code == 201, created.text
    script = created.json()
    assert script["version"] == 1 and script["body"] == "df -h" and script["language"] == "bash"
    sid = script["id"]

    changed = await app.client.put(
        f"/api/v1/scripts/{sid}", json={"version": 1, "body": "df -h /"}, headers=app.auth()
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = await app.client.put(
        f"/api/v1/scripts/{sid}", json={"version": 1, "body": "rm"}, headers=app.auth()
    )
    assert stale.status_code == 409 and stale.json()["latest_version"] == 2
    renamed = await app.client.put(
        f"/api/v1/scripts/{sid}", json={"version": 2, "name": "disks", "language": "sh"}, headers=app.auth()
    )
    assert renamed.json()["version"] == 3 and renamed.json()["name"] == "disks"

    latest = (await app.client.get(f"/api/v1/scripts/{sid}", headers=app.auth())).json()
    assert (latest["version"], latest["body"], latest["language"]) == (3, "df -h /", "sh")
    first = (await app.client.get(f"/api/v1/scripts/{sid}", params={"version": 1}, headers=app.auth())).json()
    assert (first["version"], first["body"], first["language"], first["latest_version"]) == (
        1,
        "df -h",
        "bash",
        3,
    )
    assert (
        await app.client.get(f"/api/v1/scripts/{sid}", params={"version": 9}, headers=app.auth())
    ).status_code == 404
    versions = (await app.client.get(f"/api/v1/scripts/{sid}/versions", headers=app.auth())).json()["items"]
    assert [v["version"] for v in versions] == [1, 2, 3]

    assert (await create(app, name="disks")).status_code == 409
    assert (await create(app, name="other", language="cobol")).status_code == 400
    assert (await create(app, name="big", body="x" * 300_000)).status_code == 413
    other = (await create(app, name="other")).json()
    taken = await app.client.put(
        f"/api/v1/scripts/{other['id']}", json={"version": 1, "name": "disks"}, headers=app.auth()
    )
    assert taken.status_code == 409
    listed = (await app.client.get("/api/v1/scripts", headers=app.auth())).json()["items"]
    assert [s["name"] for s in listed] == ["disks", "other"] and "body" not in listed[0]

    assert (await app.client.delete(f"/api/v1/scripts/{sid}", headers=app.auth())).status_code == 204
    assert (await app.client.get(f"/api/v1/scripts/{sid}", headers=app.auth())).status_code == 404
    actions = [
        e["action"] for e in (await app.client.get("/api/v1/audit", headers=app.auth())).json()["items"]
    ]
    assert {"script.create", "script.update", "script.delete"} <= set(actions)


async def test_a_job_can_run_a_library_script_at_a_version(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    sid = (await create(app)).json()["id"]
    await app.client.put(f"/api/v1/scripts/{sid}", json={"version": 1, "body": "df -h /"}, headers=app.auth())

    async def job_params(params: dict[str, Any]) -> dict[str, Any]:
        response = await app.client.post(
            "/api/v1/jobs",
            json={"role": "script", "params": params, "target": {"agents": [agent.agent_id]}},
            headers=app.auth(),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    latest = await job_params({"script_id": sid, "args": ["-x"]})
    assert latest["params"] == {
        "language": "bash",
        "script": "df -h /",
        "args": ["-x"],
        "env": {},
        "cwd": None,
    }
    assert (latest["script_id"], latest["script_version"]) == (sid, 2)
    pinned = await job_params({"script_id": sid, "script_version": 1})
    assert pinned["params"]["script"] == "df -h" and pinned["script_version"] == 1
    wrong = await app.client.post(
        "/api/v1/jobs",
        json={"role": "script", "params": {"script_id": sid, "language": "python"}, "target": {"all": True}},
        headers=app.auth(),
    )
    assert wrong.status_code == 400 and wrong.json()["field"] == "params.language"
