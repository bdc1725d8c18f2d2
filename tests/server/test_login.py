"""Console login (DESIGN §5): an HttpOnly SameSite=Strict cookie, CSRF on changes, logout, throttling, roles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update

from borealis.core.clock import utcnow
from borealis.server.auth.secrets import hash_password
from borealis.server.db.models import LoginSession
from borealis.server.state import app_state
from tests.conftest import App
from tests.server.operators import PASSWORD, browser, create_user, log_in


async def audit_actions(app: App, action: str) -> list[dict[str, object]]:
    response = await app.client.get("/api/v1/audit", params={"action": action}, headers=app.auth())
    assert response.status_code == 200
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_login_sets_a_strict_httponly_cookie_that_works_for_reads(app: App) -> None:
    user = await create_user(app, "olivia", "operator")
    async with browser(app) as who:
        response = await log_in(who, "olivia")
        assert response.status_code == 200
        assert response.json()["role"] == "operator" and response.json()["csrf_token"]
        cookie = response.headers["set-cookie"].lower()
        assert "borealis_session=" in cookie
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # plain http here; https gets Secure

        me = await who.client.get("/api/v1/auth/me")
        assert me.status_code == 200
        assert me.json()["name"] == "olivia" and me.json()["kind"] == "user"
        assert (await who.client.get("/api/v1/agents")).status_code == 200
    [entry] = await audit_actions(app, "auth.login")
    assert entry["actor"] == f"user:{user['id']}" and entry["actor_name"] == "olivia"


async def test_a_change_with_the_cookie_needs_the_csrf_token(app: App) -> None:
    user = await create_user(app, "olivia", "operator")
    async with browser(app) as who:
        await log_in(who, "olivia")
        body = {"uses": 1}
        without = await who.client.post("/api/v1/enrollments", json=body)
        assert without.status_code == 401
        assert "x-csrf-token" in without.json()["detail"]
        wrong = await who.client.post("/api/v1/enrollments", json=body, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 401
        right = await who.client.post("/api/v1/enrollments", json=body, headers=who.csrf_header())
        assert right.status_code == 201, right.text
        assert right.json()["created_by"] == f"user:{user['id']}"


async def test_logout_ends_the_session(app: App) -> None:
    await create_user(app, "olivia", "operator")
    async with browser(app) as who:
        await log_in(who, "olivia")
        cookie = who.client.cookies.get("borealis_session")
        assert cookie
        out = await who.client.post("/api/v1/auth/logout", headers=who.csrf_header())
        assert out.status_code == 204
        assert (
            'borealis_session=""' in out.headers["set-cookie"]
            or "max-age=0" in out.headers["set-cookie"].lower()
        )
        # Even a client that keeps the old cookie is refused now.
        who.client.cookies.set("borealis_session", cookie)
        stale = await who.client.get("/api/v1/agents")
        assert stale.status_code == 401
        assert "ended" in stale.json()["detail"]
    assert len(await audit_actions(app, "auth.logout")) == 1


async def test_an_expired_session_is_refused(app: App) -> None:
    await create_user(app, "olivia", "operator")
    async with browser(app) as who:
        await log_in(who, "olivia")
        state = app_state(app.app)
        async with state.db.transaction() as session:
            await session.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        response = await who.client.get("/api/v1/agents")
        assert response.status_code == 401


async def test_a_wrong_password_is_401_and_audited(app: App) -> None:
    await create_user(app, "olivia", "operator")
    async with browser(app) as who:
        wrong = await log_in(who, "olivia", "not the password at all")
        assert wrong.status_code == 401
        assert wrong.headers["content-type"].startswith("application/problem+json")
        assert "set-cookie" not in wrong.headers
        nobody = await log_in(who, "nobody", PASSWORD)
        assert nobody.status_code == 401
        assert wrong.json()["detail"] == nobody.json()["detail"]  # no hint which of the two was wrong
        assert (await who.client.get("/api/v1/agents")).status_code == 401
    failed = await audit_actions(app, "auth.login_failed")
    assert sorted(str(e["actor"]) for e in failed) == ["user:nobody", "user:olivia"]


async def test_repeated_failures_are_throttled_even_for_the_right_password(app: App) -> None:
    await create_user(app, "olivia", "operator")
    await create_user(app, "other", "viewer")
    async with browser(app) as who:
        # One after another (parallel ones from one address are refused early: test_login_flood.py).
        guesses = [await log_in(who, "olivia", f"guess number {i}") for i in range(10)]
        assert [r.status_code for r in guesses] == [401] * 10
        throttled = await log_in(who, "olivia", PASSWORD)
        assert throttled.status_code == 429
        assert throttled.json()["type"].endswith("/too-many-attempts")
        # Another account from the same address is not locked out by olivia's failures.
        assert (await log_in(who, "other", PASSWORD)).status_code == 200


async def test_a_disabled_user_cannot_log_in_and_loses_open_sessions(app: App) -> None:
    user = await create_user(app, "olivia", "operator")
    async with browser(app) as who:
        assert (await log_in(who, "olivia")).status_code == 200
        disable = await app.client.patch(
            f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=app.auth()
        )
        assert disable.status_code == 200 and disable.json()["disabled"] is True
        assert (await who.client.get("/api/v1/agents")).status_code == 401
        assert (await log_in(who, "olivia")).status_code == 401


async def test_a_viewer_reads_but_cannot_change(app: App) -> None:
    await create_user(app, "vera", "viewer")
    async with browser(app) as who:
        await log_in(who, "vera")
        assert (await who.client.get("/api/v1/agents")).status_code == 200
        assert (await who.client.get("/api/v1/enrollments")).status_code == 200
        for method, path, body in (
            ("POST", "/api/v1/enrollments", {"uses": 1}),
            ("POST", "/api/v1/tokens", {"name": "mine", "scopes": ["agents:read"]}),
            ("POST", "/api/v1/users", {"username": "x", "role": "admin", "password": PASSWORD}),
            ("PATCH", f"/api/v1/agents/{'0' * 32}", {"notes": "x"}),
        ):
            response = await who.client.request(method, path, json=body, headers=who.csrf_header())
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["type"].endswith("/forbidden")
        assert (await who.client.get("/api/v1/users")).status_code == 403
        assert (await who.client.get("/api/v1/audit")).status_code == 403


async def test_login_checks_its_body(app: App) -> None:
    for body in ({}, {"username": "a"}, {"username": "", "password": "x"}, {"username": 1, "password": []}):
        response = await app.client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 422, body
        assert response.json()["errors"]


async def longest_gap(app: App, until: Callable[[], bool]) -> float:
    """Serve /healthz in a loop until `until()` holds; the longest wait between turns of the event loop."""
    longest = 0.0
    while not until():
        before = time.monotonic()
        assert (await app.client.get("/healthz")).status_code == 200
        await asyncio.sleep(0.01)
        longest = max(longest, time.monotonic() - before)
    return longest


async def test_checking_a_password_does_not_stall_other_requests(app: App) -> None:
    """Argon2 takes ~0.3 s of CPU per check; it must not hold the event loop that serves the agents."""
    await create_user(app, "olivia", "operator")
    started = time.monotonic()
    hash_password(PASSWORD)  # costs what one check costs on this machine
    one_check = time.monotonic() - started
    quiet_until = time.monotonic() + 0.5
    noise = await longest_gap(app, lambda: time.monotonic() > quiet_until)  # a busy machine's own jitter
    async with browser(app) as who:
        logins = asyncio.gather(*(log_in(who, "olivia") for _ in range(2)))
        busy = await longest_gap(app, logins.done)
        assert [r.status_code for r in logins.result()] == [200] * 2
    assert busy < noise + one_check / 2, (
        f"the loop stalled {busy:.2f}s (jitter {noise:.2f}s); one check takes {one_check:.2f}s"
    )
