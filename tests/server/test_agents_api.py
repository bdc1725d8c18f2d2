"""The fleet through the API: filters (status, tag, text), cursor pages, changes, revoke, delete."""

from __future__ import annotations

import asyncio
from typing import Any

from borealis.protocol import keys
from tests.conftest import App
from tests.server.fleet import enroll, enrolled_agent, new_install_code


async def enroll_many(app: App, count: int, tags: list[str], prefix: str) -> list[str]:
    code = await new_install_code(app.client, app.auth(), uses=count, tags=tags)
    ids = []
    for i in range(count):
        response = await enroll(app.client, code["secret"], keys.generate(), hostname=f"{prefix}-{i:03d}")
        assert response.status_code == 201, response.text
        ids.append(response.json()["agent_id"])
    return ids


async def every_page(app: App, limit: int, **params: Any) -> tuple[list[str], int]:
    """Follow next_cursor to the end; returns the ids in order and how many pages it took."""
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        response = await app.client.get("/api/v1/agents", params=query, headers=app.auth())
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert len(body["items"]) <= limit
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert pages < 1000, "the cursor never ends"


async def test_paging_through_the_fleet_misses_nothing_and_repeats_nothing(app: App) -> None:
    lab = await enroll_many(app, 105, ["lab"], "lab")
    prod = await enroll_many(app, 20, ["prod", "linux"], "prod")
    everyone = lab + prod

    first = await app.client.get("/api/v1/agents", headers=app.auth())
    assert len(first.json()["items"]) == 100  # the default page
    assert first.json()["next_cursor"]

    for limit in (1, 7, 100, 125, 1000):
        ids, pages = await every_page(app, limit)
        assert len(ids) == len(set(ids)), f"duplicates with limit={limit}"
        assert sorted(ids) == sorted(everyone), f"missed or extra agents with limit={limit}"
        assert ids == sorted(ids)  # time-ordered ids: oldest first
        assert pages >= len(everyone) // limit

    ids, _ = await every_page(app, 9, tag="lab")
    assert sorted(ids) == sorted(lab)
    ids, _ = await every_page(app, 6, tag="PROD")  # tags are matched lower-case
    assert sorted(ids) == sorted(prod)
    ids, _ = await every_page(app, 50, status="offline")
    assert sorted(ids) == sorted(everyone)
    ids, _ = await every_page(app, 50, status="online")
    assert ids == []
    ids, _ = await every_page(app, 3, q="PROD-01")  # prod-010 … prod-019
    assert len(ids) == 10
    ids, _ = await every_page(app, 3, q="prod-01", tag="lab")
    assert ids == []


async def test_status_filter_follows_approval_and_revocation(app: App) -> None:
    active = await enrolled_agent(app.client, app.auth(), hostname="active")
    pending = await enrolled_agent(app.client, app.auth(), hostname="pending", approval_required=True)
    revoked = await enrolled_agent(app.client, app.auth(), hostname="revoked")
    revoke = await app.client.post(f"/api/v1/agents/{revoked.agent_id}/revoke", headers=app.auth())
    assert revoke.status_code == 200
    assert revoke.json()["status"] == "revoked" and revoke.json()["revoked_at"]

    async def with_status(status: str) -> list[str]:
        response = await app.client.get("/api/v1/agents", params={"status": status}, headers=app.auth())
        return [item["hostname"] for item in response.json()["items"]]

    assert await with_status("offline") == [active.hostname]
    assert await with_status("pending") == [pending.hostname]
    assert await with_status("revoked") == [revoked.hostname]
    assert await with_status("overdue") == []

    again = await app.client.post(f"/api/v1/agents/{revoked.agent_id}/revoke", headers=app.auth())
    assert again.status_code == 409
    audit = await app.client.get("/api/v1/audit", params={"action": "agent.revoke"}, headers=app.auth())
    assert [(e["target"], e["actor"]) for e in audit.json()["items"]] == [
        (revoked.agent_id, f"token:{app.token.split('_')[1]}")
    ]


async def test_text_search_covers_hostname_id_and_notes(app: App) -> None:
    web = await enrolled_agent(app.client, app.auth(), hostname="Web-01")
    db = await enrolled_agent(app.client, app.auth(), hostname="db-01")
    change = await app.client.patch(
        f"/api/v1/agents/{db.agent_id}", json={"notes": "Rack 7, the noisy one"}, headers=app.auth()
    )
    assert change.status_code == 200

    async def search(text: str) -> list[str]:
        response = await app.client.get("/api/v1/agents", params={"q": text}, headers=app.auth())
        return [item["id"] for item in response.json()["items"]]

    assert await search("web") == [web.agent_id]
    assert await search("NOISY") == [db.agent_id]
    assert await search(web.agent_id[-12:]) == [web.agent_id]
    assert sorted(await search("-01")) == sorted([web.agent_id, db.agent_id])
    assert await search("%") == []  # a LIKE wildcard is matched as text
    assert await search("_") == []


async def test_an_agent_can_be_renamed_retagged_and_annotated(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth(), hostname="old-name", tags=("lab",))
    path = f"/api/v1/agents/{agent.agent_id}"
    response = await app.client.patch(
        path,
        json={"hostname": "new-name", "tags": ["Prod", "prod", "eu-west"], "notes": "moved"},
        headers=app.auth(),
    )
    assert response.status_code == 200, response.text
    view = (await app.client.get(path, headers=app.auth())).json()
    assert (view["hostname"], view["tags"], view["notes"]) == ("new-name", ["prod", "eu-west"], "moved")
    assert view["facts"] == {"os": "linux", "version": "0.1.0"}
    assert (await app.client.patch(path, json={"tags": ["no spaces"]}, headers=app.auth())).status_code == 400
    assert (await app.client.patch(path, json={"hostname": ""}, headers=app.auth())).status_code == 422
    assert (await app.client.get(path, headers=app.auth())).json()["tags"] == ["prod", "eu-west"]
    audit = await app.client.get("/api/v1/audit", params={"action": "agent.update"}, headers=app.auth())
    assert audit.json()["items"][0]["detail"] == {"fields": ["hostname", "notes", "tags"]}


async def test_an_offline_agent_can_be_deleted(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    path = f"/api/v1/agents/{agent.agent_id}"
    assert (await app.client.delete(path, headers=app.auth())).status_code == 204
    assert (await app.client.get(path, headers=app.auth())).status_code == 404
    assert (await app.client.delete(path, headers=app.auth())).status_code == 404
    audit = await app.client.get("/api/v1/audit", params={"action": "agent.delete"}, headers=app.auth())
    assert audit.json()["items"][0]["detail"] == {"hostname": agent.hostname}


async def test_metrics_count_agents_by_status(app: App) -> None:
    await enrolled_agent(app.client, app.auth())
    await enrolled_agent(app.client, app.auth(), approval_required=True)
    text = (await app.client.get("/metrics", headers=app.auth())).text
    assert 'borealis_agents{status="offline"} 1' in text
    assert 'borealis_agents{status="pending"} 1' in text
    assert "borealis_agents_connected 0" in text


async def test_a_change_racing_a_deletion_is_a_conflict_not_a_500(app: App) -> None:
    for _ in range(8):
        agent = await enrolled_agent(app.client, app.auth())
        path = f"/api/v1/agents/{agent.agent_id}"
        change, deletion = await asyncio.gather(
            app.client.patch(path, json={"notes": "racing"}, headers=app.auth()),
            app.client.delete(path, headers=app.auth()),
        )
        assert deletion.status_code == 204
        assert change.status_code in (200, 404, 409), change.text
        assert (await app.client.get(path, headers=app.auth())).status_code == 404
