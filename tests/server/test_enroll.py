"""Enrollment through the API (DESIGN §5): a real Ed25519 key trades an install code for an agent id.

Every refusal is a 403 problem that says why, leaves no agent behind, and is in the audit log.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from borealis.core.clock import utcnow
from borealis.protocol import keys
from borealis.protocol.install_code import InstallCode
from borealis.server.db.models import Enrollment
from borealis.server.state import ServerState, app_state
from tests.conftest import App
from tests.server.fleet import enroll, new_install_code


def state_of(app: App) -> ServerState:
    state = app_state(app.app)
    return state


async def agent_ids(app: App) -> list[str]:
    response = await app.client.get("/api/v1/agents", headers=app.auth())
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


async def enrollment(app: App, enrollment_id: str) -> dict[str, Any]:
    response = await app.client.get("/api/v1/enrollments", headers=app.auth())
    return next(row for row in response.json()["items"] if row["id"] == enrollment_id)


async def refusals(app: App) -> list[dict[str, Any]]:
    response = await app.client.get(
        "/api/v1/audit", params={"action": "agent.enroll_refused"}, headers=app.auth()
    )
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def assert_refused(response: Any, words: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/enrollment-refused")
    assert problem["status"] == 403
    assert words in problem["detail"]


async def test_enroll_returns_an_identity_and_the_pinned_server_key(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), tags=["Lab", "linux"])
    decoded = InstallCode.decode(code["install_code"])
    assert decoded.server_url == app.settings.base_url

    key = keys.generate()
    response = await enroll(app.client, code["secret"], key, hostname="web-01")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active"
    assert body["heartbeat_s"] == app.settings.heartbeat_s
    server_key = keys.public_from_b64(body["server_public_key"])
    assert keys.fingerprint(server_key) == decoded.fingerprint

    agent = (await app.client.get(f"/api/v1/agents/{body['agent_id']}", headers=app.auth())).json()
    assert agent["hostname"] == "web-01"
    assert agent["tags"] == ["lab", "linux"]  # from the install code, cleaned
    assert agent["status"] == "offline"  # enrolled, not yet connected
    assert agent["os"] == "linux" and agent["version"] == "0.1.0"

    row = await enrollment(app, code["id"])
    assert (row["uses_count"], row["state"]) == (1, "used_up")
    audit = await app.client.get("/api/v1/audit", params={"action": "agent.enroll"}, headers=app.auth())
    assert [e["target"] for e in audit.json()["items"]] == [body["agent_id"]]


async def test_a_wrong_secret_is_refused_and_audited(app: App) -> None:
    await new_install_code(app.client, app.auth())
    response = await enroll(app.client, "not-the-secret", hostname="intruder")
    assert_refused(response, "not valid")
    assert await agent_ids(app) == []
    [entry] = await refusals(app)
    assert entry["actor"] == "host:intruder"
    assert entry["detail"]["reason"] == "install code is not valid"
    assert entry["ip"]


async def test_an_expired_code_is_refused(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), expires_in_s=60)
    async with state_of(app).db.transaction() as session:
        await session.execute(
            update(Enrollment)
            .where(Enrollment.id == code["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await enrollment(app, code["id"]))["state"] == "expired"
    response = await enroll(app.client, code["secret"])
    assert_refused(response, "expired")
    assert await agent_ids(app) == []
    assert (await enrollment(app, code["id"]))["uses_count"] == 0
    assert [e["detail"]["reason"] for e in await refusals(app)] == ["install code has expired"]


async def test_a_used_up_code_is_refused(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), uses=1)
    first = await enroll(app.client, code["secret"], hostname="one")
    assert first.status_code == 201
    second = await enroll(app.client, code["secret"], hostname="two")
    assert_refused(second, "used up")
    assert await agent_ids(app) == [first.json()["agent_id"]]
    assert (await enrollment(app, code["id"]))["uses_count"] == 1
    assert [e["actor"] for e in await refusals(app)] == ["host:two"]


async def test_a_code_with_several_uses_enrolls_that_many(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), uses=3)
    statuses = [(await enroll(app.client, code["secret"], hostname=f"h{i}")).status_code for i in range(4)]
    assert statuses == [201, 201, 201, 403]
    assert len(await agent_ids(app)) == 3


async def test_a_revoked_code_is_refused(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), uses=5)
    response = await app.client.delete(f"/api/v1/enrollments/{code['id']}", headers=app.auth())
    assert response.status_code == 204
    assert (await enrollment(app, code["id"]))["state"] == "revoked"
    assert_refused(await enroll(app.client, code["secret"]), "revoked")
    assert await agent_ids(app) == []
    assert [e["detail"]["reason"] for e in await refusals(app)] == ["install code has been revoked"]
    again = await app.client.delete(f"/api/v1/enrollments/{code['id']}", headers=app.auth())
    assert again.status_code == 409
    missing = await app.client.delete(f"/api/v1/enrollments/{'f' * 32}", headers=app.auth())
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "public_key",
    [
        "not base64 at all, not at all, not at all!",
        "=" * 43,
        keys.b64encode(b"\x01" * 31) + "AAAA",
        keys.b64encode(b"\x02" * 40),
        keys.b64encode(bytes(32)),  # a small-order point: any signature would do
    ],
)
async def test_a_malformed_public_key_is_refused_without_spending_a_use(app: App, public_key: str) -> None:
    code = await new_install_code(app.client, app.auth(), uses=1)
    response = await enroll(app.client, code["secret"], public_key=public_key)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await enrollment(app, code["id"]))["uses_count"] == 0
    assert await agent_ids(app) == []
    good = await enroll(app.client, code["secret"])
    assert good.status_code == 201


async def test_approval_flow_pending_then_approved(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), approval_required=True)
    response = await enroll(app.client, code["secret"], hostname="needs-ok")
    assert response.status_code == 201
    agent_id = response.json()["agent_id"]
    assert response.json()["status"] == "pending"
    agent = (await app.client.get(f"/api/v1/agents/{agent_id}", headers=app.auth())).json()
    assert agent["status"] == "pending"
    pending = await app.client.get("/api/v1/agents", params={"status": "pending"}, headers=app.auth())
    assert [a["id"] for a in pending.json()["items"]] == [agent_id]

    approved = await app.client.post(f"/api/v1/agents/{agent_id}/approve", headers=app.auth())
    assert approved.status_code == 200
    assert approved.json()["status"] == "offline"
    again = await app.client.post(f"/api/v1/agents/{agent_id}/approve", headers=app.auth())
    assert again.status_code == 409
    denied_late = await app.client.post(f"/api/v1/agents/{agent_id}/deny", headers=app.auth())
    assert denied_late.status_code == 409
    audit = await app.client.get("/api/v1/audit", params={"action": "agent.approve"}, headers=app.auth())
    assert [e["target"] for e in audit.json()["items"]] == [agent_id]


async def test_approval_flow_denied_deletes_the_agent(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), approval_required=True)
    agent_id = (await enroll(app.client, code["secret"])).json()["agent_id"]
    denied = await app.client.post(f"/api/v1/agents/{agent_id}/deny", headers=app.auth())
    assert denied.status_code == 204
    assert (await app.client.get(f"/api/v1/agents/{agent_id}", headers=app.auth())).status_code == 404
    assert await agent_ids(app) == []
    audit = await app.client.get("/api/v1/audit", params={"action": "agent.deny"}, headers=app.auth())
    assert [e["target"] for e in audit.json()["items"]] == [agent_id]


async def test_enroll_needs_no_token_but_checks_its_body(app: App) -> None:
    code = await new_install_code(app.client, app.auth())
    for body in (
        {},
        {"secret": code["secret"]},
        {"secret": code["secret"], "public_key": keys.public_b64(keys.generate())},
        {"secret": 5, "public_key": keys.public_b64(keys.generate()), "hostname": "h"},
        {"secret": code["secret"], "public_key": keys.public_b64(keys.generate()), "hostname": ""},
    ):
        response = await app.client.post("/api/v1/enroll", json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await enrollment(app, code["id"]))["uses_count"] == 0


async def test_agents_racing_for_the_last_uses_never_overspend_a_code(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), uses=10)
    racing = [enroll(app.client, code["secret"], hostname=f"h{i}") for i in range(30)]
    results = await asyncio.gather(*racing)
    assert sorted(r.status_code for r in results) == [201] * 10 + [403] * 20
    assert len(await agent_ids(app)) == 10
    assert (await enrollment(app, code["id"]))["uses_count"] == 10


async def test_an_install_code_carries_the_url_agents_use(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), server_url="https://rmm.example.com:8443/borealis/")
    assert InstallCode.decode(code["install_code"]).server_url == "https://rmm.example.com:8443/borealis"
    for bad in (
        "rmm.example.com",
        "ftp://rmm.example.com",
        "https://",
        "https://user:pw@rmm.example.com",
        "http://a b",
    ):
        response = await app.client.post("/api/v1/enrollments", json={"server_url": bad}, headers=app.auth())
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["field"] == "server_url"
    listed = (await app.client.get("/api/v1/enrollments", headers=app.auth())).json()["items"]
    assert [row["id"] for row in listed] == [code["id"]]  # refused codes left no rows behind
