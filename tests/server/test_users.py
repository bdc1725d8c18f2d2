"""Operator accounts through the API: create, list, change, and what bad input gets."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import App
from tests.server.operators import PASSWORD, browser, create_user, log_in


async def test_create_list_and_change_a_user(app: App) -> None:
    created = await create_user(app, "olivia", "operator")
    assert created["role"] == "operator" and created["disabled"] is False
    assert "password" not in str(created).lower()
    listed = (await app.client.get("/api/v1/users", headers=app.auth())).json()["items"]
    assert [u["username"] for u in listed] == ["olivia"]
    assert listed[0]["last_login_at"] is None

    promote = await app.client.patch(
        f"/api/v1/users/{created['id']}", json={"role": "admin"}, headers=app.auth()
    )
    assert promote.status_code == 200 and promote.json()["role"] == "admin"

    new_password = "a much better passphrase"
    change = await app.client.patch(
        f"/api/v1/users/{created['id']}", json={"password": new_password}, headers=app.auth()
    )
    assert change.status_code == 200
    async with browser(app) as who:
        assert (await log_in(who, "olivia", PASSWORD)).status_code == 401
        assert (await log_in(who, "olivia", new_password)).status_code == 200
        assert (await who.client.get("/api/v1/users")).status_code == 200  # admin now
    listed = (await app.client.get("/api/v1/users", headers=app.auth())).json()["items"]
    assert listed[0]["last_login_at"] is not None

    audit = await app.client.get("/api/v1/audit", params={"target": "olivia"}, headers=app.auth())
    assert [e["action"] for e in audit.json()["items"]] == ["user.update", "user.update", "user.create"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"username": "shorty", "role": "viewer", "password": "short"}, 400, "password"),
        ({"username": "kingpin", "role": "emperor", "password": PASSWORD}, 400, "role"),
        ({"username": "../etc", "role": "viewer", "password": PASSWORD}, 400, "username"),
        ({"username": "has space", "role": "viewer", "password": PASSWORD}, 400, "username"),
        ({"username": "x" * 65, "role": "viewer", "password": PASSWORD}, 422, "username"),
        ({"username": "typed", "role": 3, "password": PASSWORD}, 422, "role"),
        ({"role": "viewer", "password": PASSWORD}, 422, "username"),
    ],
)
async def test_bad_new_users_are_refused(app: App, body: dict[str, object], status: int, field: str) -> None:
    response = await app.client.post("/api/v1/users", json=body, headers=app.auth())
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    named = problem.get("field") or " ".join(e["field"] for e in problem.get("errors", []))
    assert field in named
    assert (await app.client.get("/api/v1/users", headers=app.auth())).json()["items"] == []


async def test_a_duplicate_username_is_a_conflict(app: App) -> None:
    await create_user(app, "olivia", "operator")
    response = await app.client.post(
        "/api/v1/users",
        json={"username": "olivia", "role": "viewer", "password": PASSWORD},
        headers=app.auth(),
    )
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


async def test_bad_changes_are_refused(app: App) -> None:
    user = await create_user(app, "olivia", "operator")
    path = f"/api/v1/users/{user['id']}"
    assert (await app.client.patch(path, json={"password": "short"}, headers=app.auth())).status_code == 400
    assert (await app.client.patch(path, json={"role": "emperor"}, headers=app.auth())).status_code == 400
    assert (await app.client.patch(path, json={"disabled": "maybe"}, headers=app.auth())).status_code == 422
    missing = await app.client.patch(f"/api/v1/users/{'0' * 32}", json={"role": "viewer"}, headers=app.auth())
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/not-found")
    [row] = (await app.client.get("/api/v1/users", headers=app.auth())).json()["items"]
    assert row["role"] == "operator"


async def test_two_requests_for_the_same_new_username_make_one_user(app: App) -> None:
    body = {"username": "twin", "role": "viewer", "password": PASSWORD}
    results = await asyncio.gather(
        *(app.client.post("/api/v1/users", json=body, headers=app.auth()) for _ in range(3))
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409]
    users = (await app.client.get("/api/v1/users", headers=app.auth())).json()["items"]
    assert [u["username"] for u in users] == ["twin"]
