"""Every /api/v1 route refuses a request without a token (401) and with a token lacking its scope (403).

The test walks the app's route table, so a route added later is covered without anyone remembering to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute

from borealis.server.api.guard import RequireScope
from borealis.server.auth.scopes import Scope
from tests.conftest import App, admin_token
from tests.server.operators import browser, create_user, log_in

# Routes that are reachable without a scope, and why.
PUBLIC = {
    ("POST", "/api/v1/enroll"): "the install code's secret is the credential",
    ("POST", "/api/v1/auth/login"): "it is how a session starts",
}
AUTHENTICATED_ANY_SCOPE = {
    ("POST", "/api/v1/auth/logout"): "any signed-in principal may end its own session",
    ("GET", "/api/v1/auth/me"): "any signed-in principal may ask who it is",
    (
        "GET",
        "/api/v1/actors",
    ): "names behind actor ids, each kind only with the scope that lists it (auth/actors.py)",
}


def _required_scope(route: APIRoute) -> Scope | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, RequireScope):
            return dependency.call.scope
        pending.extend(dependency.dependencies)
    return None


def _walk(routes: list[object]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI keeps included routers nested
        if included is not None:
            yield from _walk(included.routes)


def _api_routes(app: object) -> list[tuple[str, str, APIRoute]]:
    routes = []
    for route in _walk(app.routes):  # type: ignore[attr-defined]
        if route.path.startswith("/api/v1"):
            for method in sorted(route.methods):
                routes.append((method, route.path, route))
    return routes


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0" * 32, path)


async def test_every_route_is_guarded(app: App) -> None:
    routes = _api_routes(app.app)
    assert len(routes) > 15, "the route walk found suspiciously few routes"
    for method, path, route in routes:
        key = (method, path)
        if key in PUBLIC:
            assert _required_scope(route) is None
            continue
        response = await app.client.request(method, _concrete(path), json={})
        assert response.status_code == 401, f"{method} {path} without a token gave {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
        if key in AUTHENTICATED_ANY_SCOPE:
            continue
        scope = _required_scope(route)
        assert scope is not None, f"{method} {path} declares no scope (add RequireScope or list it above)"
        others = [s.value for s in Scope if s not in (scope, Scope.ADMIN)]
        token = await admin_token(app.settings, tuple(others), name="narrow")
        response = await app.client.request(method, _concrete(path), json={}, headers=app.auth(token))
        assert response.status_code == 403, (
            f"{method} {path} with a token lacking {scope} gave {response.status_code}"
        )
        assert scope.value in response.json()["detail"]


async def test_metrics_needs_a_token(app: App) -> None:
    assert (await app.client.get("/metrics")).status_code == 401
    response = await app.client.get("/metrics", headers=app.auth())
    assert response.status_code == 200
    assert "borealis_agents_connected 0" in response.text


@pytest.mark.parametrize("header", ["Bearer nonsense", "Basic abc", "Bearer brt_" + "0" * 32 + "_x"])
async def test_bad_credentials_are_401(app: App, header: str) -> None:
    response = await app.client.get("/api/v1/agents", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["status"] == 401


async def test_every_change_through_a_cookie_session_needs_the_csrf_token(app: App) -> None:
    """A console session (cookie) must prove a change came from the console, on every route."""
    await create_user(app, "root", "admin")
    async with browser(app) as who:
        assert (await log_in(who, "root")).status_code == 200
        changes = [
            (m, p) for m, p, _ in _api_routes(app.app) if m not in ("GET", "HEAD") and (m, p) not in PUBLIC
        ]
        assert len(changes) > 10
        for method, path in changes:
            response = await who.client.request(method, _concrete(path), json={})
            assert response.status_code == 401, (
                f"{method} {path} without a CSRF token gave {response.status_code}"
            )
            assert "x-csrf-token" in response.json()["detail"]
