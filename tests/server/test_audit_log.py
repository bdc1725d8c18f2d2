"""The audit log endpoint: who did what to which thing, newest first, filterable, paged back in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import App
from tests.server.fleet import enroll, new_install_code


async def audit(app: App, **params: Any) -> list[dict[str, Any]]:
    response = await app.client.get("/api/v1/audit", params=params, headers=app.auth())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_changes_are_listed_with_their_actor_newest_first(app: App) -> None:
    token = (
        await app.client.post(
            "/api/v1/tokens", json={"name": "ci", "scopes": ["agents:read"]}, headers=app.auth()
        )
    ).json()
    code = await new_install_code(app.client, app.auth())
    agent_id = (await enroll(app.client, code["secret"], hostname="h1")).json()["agent_id"]
    await app.client.post(f"/api/v1/agents/{agent_id}/revoke", headers=app.auth())
    await app.client.delete(f"/api/v1/enrollments/{code['id']}", headers=app.auth())

    entries = [(e["action"], e["target"], e["actor"]) for e in await audit(app)]
    me = f"token:{app.token.split('_')[1]}"  # owners and actors are recorded by id
    assert entries == [
        ("enrollment.revoke", code["id"], me),
        ("agent.revoke", agent_id, me),
        ("agent.enroll", agent_id, f"agent:{agent_id}"),
        ("enrollment.create", code["id"], me),
        ("token.create", token["id"], me),
        ("token.create", entries[-1][1], "cli:cli"),  # the fixture's own admin token
    ]
    newest = (await audit(app))[0]
    assert newest["ip"] and newest["at"].endswith("Z")
    assert datetime.fromisoformat(newest["at"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_filters_by_action_actor_target_and_time(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), uses=2)
    first = (await enroll(app.client, code["secret"], hostname="h1")).json()["agent_id"]
    await enroll(app.client, code["secret"], hostname="h2")
    await enroll(app.client, "wrong", hostname="h3")

    assert [e["action"] for e in await audit(app, action="agent.enroll")] == ["agent.enroll"] * 2
    assert [e["actor"] for e in await audit(app, action="agent.enroll_refused")] == ["host:h3"]
    assert [e["action"] for e in await audit(app, actor=f"agent:{first}")] == ["agent.enroll"]
    assert [e["action"] for e in await audit(app, target=code["id"])] == ["enrollment.create"]
    assert await audit(app, action="no.such.action") == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await audit(app, since=future) == []
    assert len(await audit(app, since="2000-01-01T00:00:00")) == 5  # a naive time is taken as UTC


async def test_pages_go_back_in_time_without_gaps(app: App) -> None:
    for i in range(7):
        await app.client.post("/api/v1/enrollments", json={"note": f"n{i}"}, headers=app.auth())
    everything = [e["id"] for e in await audit(app)]
    paged: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await app.client.get("/api/v1/audit", params=params, headers=app.auth())).json()
        paged += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == everything
    assert paged == sorted(paged, reverse=True)
