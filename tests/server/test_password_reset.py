"""A password reset ends the user's console sessions (all but the resetter's own) and, when asked,
revokes the user's API tokens."""

from __future__ import annotations

import httpx

from tests.conftest import App
from tests.server.operators import PASSWORD, Browser, browser, create_user, log_in

NEW_PASSWORD = "a brand new passphrase"


async def token_of(who: Browser) -> str:
    made = await who.client.post(
        "/api/v1/tokens", json={"name": "olivia-cli", "scopes": ["agents:read"]}, headers=who.csrf_header()
    )
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


async def works(app: App, token: str) -> int:
    transport = httpx.ASGITransport(app=app.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return (await client.get("/api/v1/agents", headers={"Authorization": f"Bearer {token}"})).status_code


async def test_a_reset_ends_sessions_and_keeps_tokens_unless_asked(app: App) -> None:
    user = await create_user(app, "olivia", "admin")
    async with browser(app) as laptop, browser(app) as phone:
        assert (await log_in(laptop, "olivia")).status_code == 200
        assert (await log_in(phone, "olivia")).status_code == 200
        token = await token_of(laptop)
        reset = await app.client.patch(
            f"/api/v1/users/{user['id']}", json={"password": NEW_PASSWORD}, headers=app.auth()
        )
        assert reset.status_code == 200, reset.text
        for who in (laptop, phone):
            assert (await who.client.get("/api/v1/agents")).status_code == 401
        assert await works(app, token) == 200
        assert (await log_in(laptop, "olivia", PASSWORD)).status_code == 401
        assert (await log_in(laptop, "olivia", NEW_PASSWORD)).status_code == 200
        revoke = await app.client.patch(
            f"/api/v1/users/{user['id']}",
            json={"password": PASSWORD, "revoke_tokens": True},
            headers=app.auth(),
        )
        assert revoke.status_code == 200
        assert await works(app, token) == 401
        assert (await laptop.client.get("/api/v1/agents")).status_code == 401
    audit = await app.client.get("/api/v1/audit", params={"action": "user.update"}, headers=app.auth())
    latest = audit.json()["items"][0]["detail"]
    assert latest["sessions_ended"] == 1 and latest["tokens_revoked"] == 1


async def test_changing_ones_own_password_keeps_the_session_in_use(app: App) -> None:
    user = await create_user(app, "olivia", "admin")
    async with browser(app) as laptop, browser(app) as stolen:
        await log_in(laptop, "olivia")
        await log_in(stolen, "olivia")
        changed = await laptop.client.patch(
            f"/api/v1/users/{user['id']}", json={"password": NEW_PASSWORD}, headers=laptop.csrf_header()
        )
        assert changed.status_code == 200, changed.text
        assert (await laptop.client.get("/api/v1/agents")).status_code == 200
        assert (await stolen.client.get("/api/v1/agents")).status_code == 401
