"""`GET /api/v1/actors`: the names behind the actor ids that records keep."""

from __future__ import annotations

from tests.conftest import App
from tests.server.operators import create_user
from tests.server.test_tokens import new_token


async def test_ids_resolve_to_the_names_people_know_and_gone_ones_to_null(app: App) -> None:
    user = await create_user(app, "ada", "viewer")
    token = await new_token(app, ["agents:read"], name="nightly-report")
    ids = [
        f"user:{user['id']}",
        f"token:{token['id']}",
        "user:0123456789abcdef0123456789abcdef",
        "cli:cli",
        "x",
    ]
    response = await app.client.get(
        "/api/v1/actors", params=[("id", i) for i in ids], headers=app.auth(token["token"])
    )
    assert response.status_code == 200, response.text
    names = {item["id"]: item["name"] for item in response.json()["items"]}
    assert names == {
        f"user:{user['id']}": "ada",
        f"token:{token['id']}": "nightly-report",
        "user:0123456789abcdef0123456789abcdef": None,
        "cli:cli": "the server's command line",
        "x": None,
    }


async def test_strangers_and_unbounded_lists_are_refused(app: App) -> None:
    assert (await app.client.get("/api/v1/actors", params={"id": "user:x"})).status_code == 401
    many = [("id", f"user:{n}") for n in range(101)]
    too_many = await app.client.get("/api/v1/actors", params=many, headers=app.auth())
    assert too_many.status_code == 422 and too_many.json()["title"]
    none = await app.client.get("/api/v1/actors", headers=app.auth())
    assert none.status_code == 422
    long = await app.client.get("/api/v1/actors", params={"id": "u" * 161}, headers=app.auth())
    assert long.status_code == 422


async def test_names_of_kinds_a_principal_cannot_list_are_withheld(app: App) -> None:
    user = await create_user(app, "grace", "operator")
    other = await new_token(app, ["agents:read"], name="someone-elses")
    jobs_only = await new_token(app, ["jobs:read"], name="jobs-only")
    ids = [f"user:{user['id']}", f"token:{other['id']}", f"token:{jobs_only['id']}"]
    response = await app.client.get(
        "/api/v1/actors", params=[("id", i) for i in ids], headers=app.auth(jobs_only["token"])
    )
    assert response.status_code == 200, response.text
    names = {item["id"]: item["name"] for item in response.json()["items"]}
    # People's names, and its own token's, yes; another token's name needs users:read.
    assert names == {ids[0]: "grace", ids[1]: None, ids[2]: "jobs-only"}
    admin = await app.client.get("/api/v1/actors", params={"id": ids[1]}, headers=app.auth())
    assert admin.json()["items"] == [{"id": ids[1], "name": "someone-elses"}]
