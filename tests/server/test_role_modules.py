"""Role modules through the API: versions, validation, admin only, audit, withdrawal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from borealis.protocol import keys
from borealis.protocol.roles import MAX_ROLE_BYTES, body_sha256, role_install_payload, role_remove_payload
from borealis.server.keys import server_key
from borealis.server.state import app_state
from tests.conftest import App

EXAMPLE = (Path(__file__).parents[2] / "docs" / "examples" / "role_echo.py").read_text()


async def upload(app: App, token: str | None = None, **fields: Any) -> Any:
    body = {"name": "echo", "body": EXAMPLE, **fields}
    return await app.client.post("/api/v1/roles", json=body, headers=app.auth(token))


async def test_each_upload_is_a_new_signed_version_listed_and_readable(app: App) -> None:
    first = await upload(app, description="says it back")
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["sha256"] == body_sha256(EXAMPLE)
    second = await upload(
        app, body=EXAMPLE.replace('VERSION = "1"', 'VERSION = "2"'), target={"tags": ["Lab"]}
    )
    assert second.json()["version"] == 2 and second.json()["target"] == {"tags": ["lab"]}

    listing = (await app.client.get("/api/v1/roles", headers=app.auth())).json()
    assert [(r["name"], r["version"]) for r in listing["items"]] == [("echo", 2)]
    one = (await app.client.get("/api/v1/roles/echo", headers=app.auth())).json()
    assert one["body"].count('VERSION = "2"') == 1 and [v["version"] for v in one["versions"]] == [2, 1]
    assert one["agents"] == []

    # What agents will verify: the server key signs name, version and the body's hash.
    public = server_key(app.settings.home).public_key()
    state = app_state(app.app)
    rows = await state.role_modules.versions("echo")
    assert keys.verify(public, role_install_payload("echo", 2, rows[0].sha256), rows[0].signature)

    audit = (await app.client.get("/api/v1/audit", headers=app.auth())).json()["items"]
    assert [e["action"] for e in audit if e["action"].startswith("role.")] == ["role.upload", "role.upload"]


async def test_withdrawing_signs_a_removal_and_a_second_withdrawal_is_a_404(app: App) -> None:
    await upload(app)
    assert (await app.client.delete("/api/v1/roles/echo", headers=app.auth())).status_code == 204
    rows = await app_state(app.app).role_modules.versions("echo")
    public = server_key(app.settings.home).public_key()
    assert rows[0].withdrawn_at is not None
    assert keys.verify(public, role_remove_payload("echo", 1), rows[0].withdraw_signature)
    again = await app.client.delete("/api/v1/roles/echo", headers=app.auth())
    assert again.status_code == 404 and again.headers["content-type"].startswith("application/problem+json")
    assert (await upload(app)).json()["version"] == 2, "a re-upload continues the version sequence"


@pytest.mark.parametrize(
    ("fields", "status", "detail"),
    [
        ({"name": "Echo"}, 400, "lowercase"),
        ({"name": "../x"}, 400, "lowercase"),
        ({"name": "script"}, 409, "built-in"),
        ({"body": "def create_role(:\n"}, 400, "line 1"),
        ({"body": "x = 1\n"}, 400, "create_role"),
        ({"target": {"agents": ["a"]}}, 400, "target"),
        ({"target": {"tags": []}}, 400, "target"),
        ({"body": "#" * (MAX_ROLE_BYTES + 1)}, 422, ""),
    ],
)
async def test_bad_uploads_are_refused_with_a_problem(
    app: App, fields: dict[str, Any], status: int, detail: str
) -> None:
    response = await upload(app, **fields)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.text
    assert (await app.client.get("/api/v1/roles", headers=app.auth())).json()["items"] == []


async def test_only_admins_upload_and_unknown_names_are_404(app: App) -> None:
    made = await app.client.post(
        "/api/v1/tokens", json={"name": "ops", "scopes": ["agents:read", "jobs:run"]}, headers=app.auth()
    )
    operator = made.json()["token"]
    refused = await upload(app, token=operator)
    assert refused.status_code == 403
    assert (await app.client.get("/api/v1/roles", headers=app.auth(operator))).status_code == 200
    assert (await app.client.delete("/api/v1/roles/echo", headers=app.auth(operator))).status_code == 403
    missing = await app.client.get("/api/v1/roles/nope", headers=app.auth())
    assert missing.status_code == 404
