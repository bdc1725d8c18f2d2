"""API tokens (DESIGN §5): shown once, stored hashed, scoped, expiring, revocable, with a last-used time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from borealis.core.clock import utcnow
from borealis.server.db.models import ApiToken
from borealis.server.state import app_state
from tests.conftest import App
from tests.server.operators import browser, create_user, log_in


async def new_token(
    app: App, scopes: list[str], name: str = "ci", token: str | None = None
) -> dict[str, Any]:
    response = await app.client.post(
        "/api/v1/tokens", json={"name": name, "scopes": scopes}, headers=app.auth(token)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(app: App) -> dict[str, dict[str, Any]]:
    response = await app.client.get("/api/v1/tokens", headers=app.auth())
    assert response.status_code == 200
    return {t["id"]: t for t in response.json()["items"]}


async def test_a_new_token_is_shown_once_and_works_within_its_scopes(app: App) -> None:
    created = await new_token(app, ["agents:read"])
    secret = created["token"]
    assert secret.startswith("brt_") and created["scopes"] == ["agents:read"]
    assert created["last_used_at"] is None

    assert (await app.client.get("/api/v1/agents", headers=app.auth(secret))).status_code == 200
    refused = await app.client.post("/api/v1/enrollments", json={}, headers=app.auth(secret))
    assert refused.status_code == 403
    assert "enrollments:write" in refused.json()["detail"]

    response = await app.client.get("/api/v1/tokens", headers=app.auth())
    assert secret not in response.text
    assert secret.split("_", 2)[2] not in response.text  # brt_<hex id>_<secret, which may hold "_">
    row = (await listed(app))[created["id"]]
    assert "token" not in row and "secret_hash" not in row
    assert row["last_used_at"] is not None  # set by the request above


async def test_a_revoked_token_is_refused(app: App) -> None:
    created = await new_token(app, ["agents:read"])
    revoke = await app.client.delete(f"/api/v1/tokens/{created['id']}", headers=app.auth())
    assert revoke.status_code == 204
    response = await app.client.get("/api/v1/agents", headers=app.auth(created["token"]))
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await listed(app))[created["id"]]["revoked_at"] is not None
    again = await app.client.delete(f"/api/v1/tokens/{created['id']}", headers=app.auth())
    assert again.status_code == 409
    unknown = await app.client.delete(f"/api/v1/tokens/{'0' * 32}", headers=app.auth())
    assert unknown.status_code == 404


async def test_an_expired_token_is_refused(app: App) -> None:
    response = await app.client.post(
        "/api/v1/tokens",
        json={"name": "short", "scopes": ["agents:read"], "expires_in_s": 60},
        headers=app.auth(),
    )
    assert response.status_code == 201
    created = response.json()
    assert created["expires_at"] is not None
    assert (await app.client.get("/api/v1/agents", headers=app.auth(created["token"]))).status_code == 200
    state = app_state(app.app)
    async with state.db.transaction() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == created["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await app.client.get("/api/v1/agents", headers=app.auth(created["token"]))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


async def test_a_token_cannot_get_scopes_its_creator_lacks(app: App) -> None:
    narrow = await new_token(app, ["agents:read", "tokens:write"], name="narrow")
    response = await app.client.post(
        "/api/v1/tokens",
        json={"name": "wider", "scopes": ["agents:read", "agents:write"]},
        headers=app.auth(narrow["token"]),
    )
    assert response.status_code == 403
    assert "agents:write" in response.json()["detail"]
    escalate = await app.client.post(
        "/api/v1/tokens", json={"name": "root", "scopes": ["admin"]}, headers=app.auth(narrow["token"])
    )
    assert escalate.status_code == 403
    same = await new_token(app, ["agents:read"], name="same", token=narrow["token"])
    assert same["created_by"] == f"token:{narrow['id']}"


async def test_a_non_admin_sees_and_revokes_only_its_own_tokens(app: App) -> None:
    mine = await new_token(app, ["agents:read", "tokens:write"], name="mine")
    other = await new_token(app, ["agents:read"], name="other")
    child = await new_token(app, ["agents:read"], name="child", token=mine["token"])
    response = await app.client.get("/api/v1/tokens", headers=app.auth(mine["token"]))
    assert [t["id"] for t in response.json()["items"]] == [child["id"]]
    refused = await app.client.delete(f"/api/v1/tokens/{other['id']}", headers=app.auth(mine["token"]))
    assert refused.status_code == 404


async def test_token_requests_are_checked(app: App) -> None:
    for body in (
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["agents:read"]},
        {"name": "x", "scopes": "agents:read"},
        {"name": "x", "scopes": ["agents:read"], "expires_in_s": 1},
        {"name": "x" * 129, "scopes": ["agents:read"]},
    ):
        response = await app.client.post("/api/v1/tokens", json=body, headers=app.auth())
        assert response.status_code == 422, (body, response.text)
    unknown = await app.client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["agents:fly"]}, headers=app.auth()
    )
    assert unknown.status_code == 400
    assert "agents:fly" in unknown.json()["detail"] and unknown.json()["field"] == "scopes"


async def test_a_users_token_follows_the_user(app: App) -> None:
    """A token made in a console session acts for that user: it stops when the user is disabled and
    loses what a lowered role no longer grants."""
    user = await create_user(app, "olivia", "operator")
    async with browser(app) as who:
        await log_in(who, "olivia")
        response = await who.client.post(
            "/api/v1/tokens",
            json={"name": "olivia-ci", "scopes": ["agents:read", "enrollments:write"]},
            headers=who.csrf_header(),
        )
        assert response.status_code == 201, response.text
    secret = response.json()["token"]
    assert (
        await app.client.post("/api/v1/enrollments", json={}, headers=app.auth(secret))
    ).status_code == 201

    demote = await app.client.patch(
        f"/api/v1/users/{user['id']}", json={"role": "viewer"}, headers=app.auth()
    )
    assert demote.status_code == 200
    assert (await app.client.get("/api/v1/agents", headers=app.auth(secret))).status_code == 200
    assert (
        await app.client.post("/api/v1/enrollments", json={}, headers=app.auth(secret))
    ).status_code == 403

    disable = await app.client.patch(
        f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=app.auth()
    )
    assert disable.status_code == 200
    assert (await app.client.get("/api/v1/agents", headers=app.auth(secret))).status_code == 401


async def test_token_changes_are_audited_with_their_actor(app: App) -> None:
    created = await new_token(app, ["agents:read"], name="audited")
    await app.client.delete(f"/api/v1/tokens/{created['id']}", headers=app.auth())
    response = await app.client.get("/api/v1/audit", headers=app.auth())
    entries = [(e["action"], e["target"], e["actor"]) for e in response.json()["items"]]
    assert ("token.create", created["id"], f"token:{app.token.split('_')[1]}") in entries
    assert ("token.revoke", created["id"], f"token:{app.token.split('_')[1]}") in entries
    assert created["token"] not in response.text
