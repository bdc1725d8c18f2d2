"""Bad input gets a 4xx problem+json that says what is wrong: never a 500, never a stack trace (DESIGN §5)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from borealis.protocol import keys
from tests.conftest import App
from tests.server.fleet import enroll, enrolled_agent, new_install_code

UNKNOWN = "0" * 32


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"] and problem["detail"] and problem["type"].startswith("https://")
    assert "Traceback" not in response.text
    return problem


JSON_ROUTES = [
    ("POST", "/api/v1/enrollments"),
    ("POST", "/api/v1/tokens"),
    ("POST", "/api/v1/users"),
    ("PATCH", f"/api/v1/agents/{UNKNOWN}"),
    ("POST", "/api/v1/enroll"),
    ("POST", "/api/v1/auth/login"),
]
NOT_AN_OBJECT = [b"{not json", b"", b"[]", b'"a string"', b"\xff\xfe", b"null", b"{" * 10_000]


async def test_bodies_that_are_not_the_expected_json_are_422(app: App) -> None:
    for method, path in JSON_ROUTES:
        for content in NOT_AN_OBJECT:
            response = await app.client.request(
                method, path, content=content, headers={**app.auth(), "content-type": "application/json"}
            )
            assert response.status_code == 422, (method, path, content[:20], response.text)
            assert_problem(response, 422)


WRONG_TYPES = [
    ("/api/v1/enrollments", {"uses": "many"}, "uses"),
    ("/api/v1/enrollments", {"uses": 0}, "uses"),
    ("/api/v1/enrollments", {"expires_in_s": 10}, "expires_in_s"),
    ("/api/v1/enrollments", {"tags": "linux"}, "tags"),
    ("/api/v1/enrollments", {"approval_required": {"x": 1}}, "approval_required"),
    ("/api/v1/tokens", {"name": ["x"], "scopes": ["admin"]}, "name"),
    ("/api/v1/enroll", {"secret": "s", "public_key": "k" * 43, "hostname": "h", "facts": [1]}, "facts"),
    ("/api/v1/enroll", {"secret": "s", "public_key": "k" * 43, "hostname": "h", "facts": {"a": {}}}, "facts"),
]


async def test_wrong_types_are_422_naming_the_field(app: App) -> None:
    for path, body, field in WRONG_TYPES:
        response = await app.client.post(path, json=body, headers=app.auth())
        assert response.status_code == 422, (path, body, response.text)
        problem = assert_problem(response, 422)
        assert any(field in error["field"] for error in problem["errors"]), problem
        assert field in problem["detail"]


async def test_a_bad_tag_is_400_naming_the_field(app: App) -> None:
    response = await app.client.post("/api/v1/enrollments", json={"tags": ["Not A Tag!"]}, headers=app.auth())
    assert assert_problem(response, 400)["field"] == "tags"


async def test_an_oversize_body_is_413(app: App) -> None:
    limit = app.settings.max_request_bytes
    big = b'{"name": "' + b"x" * limit + b'", "scopes": ["admin"]}'
    declared = await app.client.post(
        "/api/v1/tokens", content=big, headers={**app.auth(), "content-type": "application/json"}
    )
    problem = assert_problem(declared, 413)
    assert str(limit) in problem["detail"]

    async def chunks() -> Any:  # no Content-Length: the limit is counted while reading
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    streamed = await app.client.post(
        "/api/v1/enroll", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(streamed, 413)
    lying = await app.client.post(
        "/api/v1/enroll", content=b"{}", headers={"content-type": "application/json", "content-length": "x"}
    )
    assert lying.status_code in (400, 413)


UNKNOWN_THINGS = [
    ("GET", f"/api/v1/agents/{UNKNOWN}"),
    ("PATCH", f"/api/v1/agents/{UNKNOWN}"),
    ("DELETE", f"/api/v1/agents/{UNKNOWN}"),
    ("POST", f"/api/v1/agents/{UNKNOWN}/revoke"),
    ("POST", f"/api/v1/agents/{UNKNOWN}/approve"),
    ("POST", f"/api/v1/agents/{UNKNOWN}/deny"),
    ("GET", "/api/v1/agents/" + "z" * 300),
    ("DELETE", f"/api/v1/enrollments/{UNKNOWN}"),
    ("DELETE", f"/api/v1/tokens/{UNKNOWN}"),
    ("PATCH", f"/api/v1/users/{UNKNOWN}"),
    ("GET", "/api/v1/no-such-thing"),
]


async def test_unknown_things_are_404(app: App) -> None:
    for method, path in UNKNOWN_THINGS:
        response = await app.client.request(method, path, json={}, headers=app.auth())
        assert response.status_code == 404, (method, path, response.text)
        assert_problem(response, 404)


async def test_a_wrong_method_is_405(app: App) -> None:
    assert_problem(await app.client.put("/api/v1/agents", headers=app.auth()), 405)


BAD_QUERIES = [
    ("/api/v1/agents", {"limit": "ten"}, "limit"),
    ("/api/v1/agents", {"limit": 0}, "limit"),
    ("/api/v1/agents", {"limit": 5000}, "limit"),
    ("/api/v1/agents", {"status": "sleeping"}, "status"),
    ("/api/v1/agents", {"cursor": "c" * 65}, "cursor"),
    ("/api/v1/agents", {"q": "q" * 129}, "q"),
    ("/api/v1/audit", {"cursor": "abc"}, "cursor"),
    ("/api/v1/audit", {"cursor": "99999999999999999999999"}, "cursor"),
    ("/api/v1/audit", {"since": "last tuesday"}, "since"),
    ("/api/v1/audit", {"limit": -1}, "limit"),
]


async def test_bad_query_parameters_are_422_naming_the_field(app: App) -> None:
    for path, params, field in BAD_QUERIES:
        response = await app.client.get(path, params=params, headers=app.auth())
        assert response.status_code == 422, (path, params, response.text)
        problem = assert_problem(response, 422)
        assert [e["field"] for e in problem["errors"]] == [field]
        assert field in problem["detail"]


# Text that SQLite stores happily but PostgreSQL refuses (NUL) or that is longer than a column allows.
AWKWARD = ["nul\x00byte", "é" * 255, "x" * 255]


@pytest.mark.parametrize("text", AWKWARD)
async def test_awkward_text_is_stored_or_refused_but_never_a_500(app: App, text: str) -> None:
    code = await new_install_code(app.client, app.auth(), uses=1)
    enrolled = await enroll(app.client, code["secret"], hostname=text, facts={text[:64]: text})
    assert enrolled.status_code in (201, 400, 422), enrolled.text
    if enrolled.status_code == 201:  # then the code is used up: a refusal, audited with the hostname
        refused = await enroll(app.client, code["secret"], hostname=text)
        assert refused.status_code in (400, 403), refused.text

    agent = await enrolled_agent(app.client, app.auth())
    change = await app.client.patch(
        f"/api/v1/agents/{agent.agent_id}", json={"notes": text, "hostname": text}, headers=app.auth()
    )
    assert change.status_code in (200, 400, 422), change.text
    for params in ({"q": text[:128]}, {"tag": text[:64]}, {"cursor": text[:64]}):
        listing = await app.client.get("/api/v1/agents", params=params, headers=app.auth())
        assert listing.status_code in (200, 400, 422), listing.text
    for params in ({"action": text[:64]}, {"actor": text[:160]}, {"target": text[:160]}):
        audit = await app.client.get("/api/v1/audit", params=params, headers=app.auth())
        assert audit.status_code in (200, 400, 422), audit.text
    login = await app.client.post("/api/v1/auth/login", json={"username": text[:64], "password": text})
    assert login.status_code in (401, 400, 422), login.text
    token = await app.client.post(
        "/api/v1/tokens", json={"name": text[:128], "scopes": ["admin"]}, headers=app.auth()
    )
    assert token.status_code in (201, 400, 422), token.text
    if token.status_code == 201:
        # A token with the longest name acts (and is recorded) as the creator of another token.
        child = await app.client.post(
            "/api/v1/tokens",
            json={"name": "child", "scopes": ["agents:read"]},
            headers=app.auth(token.json()["token"]),
        )
        assert child.status_code == 201, child.text
        revoke = await app.client.post(
            f"/api/v1/agents/{agent.agent_id}/revoke", headers=app.auth(token.json()["token"])
        )
        assert revoke.status_code == 200, revoke.text
    user = await app.client.post(
        "/api/v1/users", json={"username": text[:64], "role": "viewer", "password": text}, headers=app.auth()
    )
    assert user.status_code in (201, 400, 422), user.text
    key = await app.client.post(
        "/api/v1/enroll",
        json={"secret": text[:128], "public_key": keys.public_b64(keys.generate()), "hostname": "h"},
    )
    assert key.status_code in (400, 403, 422), key.text
