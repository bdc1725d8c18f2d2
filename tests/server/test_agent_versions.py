"""Agent versions through the API: uploads read, checked, stored and signed; bad uploads refused;
deletion; and throttled rollouts against test agents that speak the real protocol."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from borealis.protocol import keys
from borealis.protocol.agent_updates import CHUNK_BYTES, MAX_WHEEL_BYTES, decode_chunk, update_payload
from borealis.server.agent_updates.wheels import blob_dir
from borealis.server.keys import server_key
from borealis.server.state import app_state
from tests.agent.update_wheels import build_agent_wheel
from tests.conftest import App
from tests.server.fleet import EnrolledAgent, Session, enrolled_agent, open_session, proper_hello
from tests.server.test_jobs import api, job_server
from tests.support import eventually

__all__ = ["api", "job_server"]  # fixtures shared with test_jobs


async def upload(
    client: httpx.AsyncClient, wheel: Path | bytes, filename: str, **headers: str
) -> httpx.Response:
    content = wheel.read_bytes() if isinstance(wheel, Path) else wheel
    return await client.post(
        "/api/v1/agent-versions", params={"filename": filename}, content=content, headers=headers
    )


def leftovers(app: App) -> list[str]:
    folder = blob_dir(app.settings.home)
    return sorted(p.name for p in folder.glob(".upload-*")) if folder.exists() else []


async def test_an_uploaded_wheel_is_read_for_its_version_stored_by_hash_and_signed(
    app: App, tmp_path: Path
) -> None:
    wheel = build_agent_wheel(tmp_path, "0.9.1")
    data = wheel.read_bytes()

    response = await upload(app.client, wheel, wheel.name, **app.auth())

    assert response.status_code == 201, response.text
    body = response.json()
    sha256 = hashlib.sha256(data).hexdigest()
    assert (body["version"], body["sha256"], body["size"]) == ("0.9.1", sha256, len(data))
    public = server_key(app.settings.home).public_key()
    assert keys.verify(public, update_payload("0.9.1", sha256, len(data)), body["signature"])
    assert (blob_dir(app.settings.home) / f"{sha256}.whl").read_bytes() == data
    listed = (await app.client.get("/api/v1/agent-versions", headers=app.auth())).json()["items"]
    assert [item["version"] for item in listed] == ["0.9.1"]
    one = await app.client.get("/api/v1/agent-versions/0.9.1", headers=app.auth())
    assert one.json() == body
    audit = (await app.client.get("/api/v1/audit", headers=app.auth())).json()["items"]
    assert ("agent_version.upload", "0.9.1") in [(e["action"], e["target"]) for e in audit]

    again = await upload(app.client, wheel, wheel.name, **app.auth())
    assert again.status_code == 409
    assert leftovers(app) == []


async def test_uploads_that_are_not_agent_wheels_are_refused_with_a_problem(app: App, tmp_path: Path) -> None:
    good = build_agent_wheel(tmp_path, "0.9.2").read_bytes()
    other = tmp_path / "other"
    other.mkdir()
    evil = build_agent_wheel(other, "0.9.2", metadata_name="evilpkg").read_bytes()
    cases: list[tuple[bytes, str, str]] = [
        (good, "agent.zip", "filename"),
        (good, "borealis-0.9.3-py3-none-any.whl", "METADATA says 0.9.2"),
        (good, "borealis-0.9.2-cp311-cp311-linux_x86_64.whl", "pure-Python"),
        (b"not a zip at all", "borealis-0.9.2-py3-none-any.whl", "not a wheel"),
        (b"", "borealis-0.9.2-py3-none-any.whl", "empty"),
        (evil, "borealis-0.9.2-py3-none-any.whl", "not borealis"),
    ]
    for content, filename, words in cases:
        response = await upload(app.client, content, filename, **app.auth())
        assert response.status_code == 400, (filename, words, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert words in response.json()["detail"], response.json()
    assert (await app.client.get("/api/v1/agent-versions", headers=app.auth())).json()["items"] == []
    assert leftovers(app) == []


async def test_an_upload_over_the_size_limit_is_refused(app: App) -> None:
    async def too_much() -> AsyncIterator[bytes]:
        block = b"\0" * (1024 * 1024)
        for _ in range(MAX_WHEEL_BYTES // len(block) + 1):
            yield block

    response = await app.client.post(
        "/api/v1/agent-versions",
        params={"filename": "borealis-1.0-py3-none-any.whl"},
        content=too_much(),
        headers=app.auth(),
    )
    assert response.status_code == 413
    assert leftovers(app) == []


async def test_deleting_a_version_removes_its_file_and_a_narrow_token_cannot(
    app: App, tmp_path: Path
) -> None:
    wheel = build_agent_wheel(tmp_path, "0.9.4")
    sha256 = (await upload(app.client, wheel, wheel.name, **app.auth())).json()["sha256"]
    from tests.conftest import admin_token

    reader = await admin_token(app.settings, ("agents:read", "agents:write"), name="operator-ish")
    refused = await app.client.delete("/api/v1/agent-versions/0.9.4", headers=app.auth(reader))
    assert refused.status_code == 403

    deleted = await app.client.delete("/api/v1/agent-versions/0.9.4", headers=app.auth())
    assert deleted.status_code == 204
    assert not (blob_dir(app.settings.home) / f"{sha256}.whl").exists()
    assert (await app.client.get("/api/v1/agent-versions/0.9.4", headers=app.auth())).status_code == 404
    assert (await app.client.delete("/api/v1/agent-versions/0.9.4", headers=app.auth())).status_code == 404
    missing = await app.client.post(
        "/api/v1/agent-versions/0.9.4/rollout", json={"target": {"all": True}}, headers=app.auth()
    )
    assert missing.status_code == 404


# -- rollouts against test agents on a real server ----------------------------------------------------


async def rows(
    api: httpx.AsyncClient, version: str, headers: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    response = await api.get(f"/api/v1/agent-versions/{version}/rollout", headers=headers)
    assert response.status_code == 200, response.text
    return {row["agent_id"]: row for row in response.json()["agents"]}


async def states(
    api: httpx.AsyncClient, version: str, headers: dict[str, str] | None = None
) -> dict[str, str]:
    return {agent_id: row["state"] for agent_id, row in (await rows(api, version, headers)).items()}


async def connect(url: str, agent: EnrolledAgent, version: str = "0.1.0") -> Session:
    session = await open_session(url, agent, lambda c: {**proper_hello(agent, c), "version": version})
    assert session.welcome is not None
    session.keep_beating()
    return session


async def report(session: Session, version: str, state: str, reason: str | None = None) -> None:
    msg_id = f"st-{version}-{state}-{id(session)}"
    await session.send(
        {"t": "update.status", "msg_id": msg_id, "version": version, "state": state, "reason": reason}
    )
    ack = await session.receive("ack")
    assert ack["msg_id"] == msg_id


@pytest.fixture
def wheel(tmp_path: Path) -> Iterator[Path]:
    yield build_agent_wheel(tmp_path, "0.9.1", padding_bytes=CHUNK_BYTES)


@pytest.mark.slow
async def test_a_rollout_offers_at_most_batch_size_agents_at_once_and_moves_on_as_they_finish(
    job_server: Any, api: httpx.AsyncClient, wheel: Path
) -> None:
    headers = dict(api.headers)
    fleet = [await enrolled_agent(api, headers, hostname=f"host-{i}") for i in range(3)]
    sessions = {agent.agent_id: await connect(job_server.url, agent) for agent in fleet}
    data = wheel.read_bytes()
    assert (await upload(api, wheel, wheel.name)).status_code == 201

    started = await api.post(
        "/api/v1/agent-versions/0.9.1/rollout",
        json={"target": {"agents": [a.agent_id for a in fleet]}, "batch_size": 2},
    )
    assert started.status_code == 202, started.text
    await eventually(lambda: _count(api, "offered", 2))
    offered = [agent_id for agent_id, state in (await states(api, "0.9.1")).items() if state == "offered"]
    [waiting] = [a.agent_id for a in fleet if a.agent_id not in offered]
    assert (await states(api, "0.9.1"))[waiting] == "pending"
    assert await sessions[waiting].nothing_of("update.offer", 1.5), "a third agent while two are updating"

    first, second = (sessions[agent_id] for agent_id in offered)
    offer = await first.receive("update.offer")
    assert (offer["version"], offer["size"]) == ("0.9.1", len(data))
    assert offer["sha256"] == hashlib.sha256(data).hexdigest()
    await first.send({"t": "update.fetch", "version": "0.9.1", "offset": CHUNK_BYTES})
    chunk = await first.receive("update.chunk")
    assert chunk["offset"] == CHUNK_BYTES
    assert decode_chunk(chunk["data"]) == data[CHUNK_BYTES : 2 * CHUNK_BYTES]
    await sessions[waiting].send({"t": "update.fetch", "version": "0.9.1", "offset": 0})
    assert await sessions[waiting].nothing_of("update.chunk"), "a chunk for an agent it was not offered to"

    await report(first, "0.9.1", "downloading")
    await report(first, "0.9.1", "failed", "disk full")
    offer = await sessions[waiting].receive("update.offer", 5)
    assert offer["version"] == "0.9.1"
    await report(second, "0.9.1", "switching")
    await report(second, "0.9.1", "rolled_back", "the new worker did not connect within 120 s")

    await sessions[waiting].close()
    again = await connect(job_server.url, next(a for a in fleet if a.agent_id == waiting), version="0.9.1")
    await eventually(lambda: _count(api, "connected", 1))
    final = await rows(api, "0.9.1")
    assert {row["state"] for row in final.values()} == {"failed", "rolled_back", "connected"}
    failed = next(row for row in final.values() if row["state"] == "failed")
    assert failed["reason"] == "disk full"
    assert final[waiting]["from_version"] == "0.1.0"
    assert (await api.get(f"/api/v1/agents/{waiting}")).json()["version"] == "0.9.1"
    progress = (await api.get("/api/v1/agent-versions/0.9.1/rollout")).json()
    assert progress["done"] and progress["counts"]["connected"] == 1
    assert (await api.delete("/api/v1/agent-versions/0.9.1")).status_code == 204

    for session in (first, second, again):
        await session.close()


async def _count(api: httpx.AsyncClient, state: str, wanted: int) -> bool:
    return list((await states(api, "0.9.1")).values()).count(state) == wanted


async def test_rollout_rules_already_there_missed_arrival_timeout_retry_and_cancel(
    app: App, tmp_path: Path
) -> None:
    """Driven round by round (`advance`) on offline agents, with rows moved as agents would move them."""
    from datetime import timedelta

    from sqlalchemy import update

    from borealis.core.clock import utcnow
    from borealis.server.db.models import Agent, AgentUpdate

    state = app_state(app.app)
    a, b, c = [(await enrolled_agent(app.client, app.auth(), hostname=f"h{i}")).agent_id for i in range(3)]
    wheel = build_agent_wheel(tmp_path, "0.9.1")
    assert (await upload(app.client, wheel, wheel.name, **app.auth())).status_code == 201
    async with state.db.transaction() as session:
        await session.execute(update(Agent).where(Agent.id == c).values(version="0.9.1"))

    body = {"target": {"agents": [a, b, c]}, "batch_size": 5}
    started = await app.client.post("/api/v1/agent-versions/0.9.1/rollout", json=body, headers=app.auth())
    assert started.status_code == 202, started.text
    await state.updates.rollouts.advance()
    assert await states(app.client, "0.9.1", app.auth()) == {a: "pending", b: "pending", c: "connected"}

    long_ago = utcnow() - timedelta(hours=2)
    async with state.db.transaction() as session:
        of_version = update(AgentUpdate).where(AgentUpdate.version == "0.9.1")
        await session.execute(
            of_version.where(AgentUpdate.agent_id == a).values(state="offered", updated_at=long_ago)
        )
        await session.execute(of_version.where(AgentUpdate.agent_id == b).values(state="switching"))
        await session.execute(update(Agent).where(Agent.id == b).values(version="0.9.1"))
    await state.updates.rollouts.advance()
    found = await rows(app.client, "0.9.1", app.auth())
    assert {k: v["state"] for k, v in found.items()} == {a: "timed_out", b: "connected", c: "connected"}
    assert found[a]["reason"] == "no word from the agent for 1800 s"
    assert found[c]["reason"] == "the agent already runs this version"

    again = await app.client.post("/api/v1/agent-versions/0.9.1/rollout", json=body, headers=app.auth())
    assert again.json()["counts"]["pending"] == 1 and not again.json()["done"]
    assert (await states(app.client, "0.9.1", app.auth()))[a] == "pending"
    cancelled = await app.client.post("/api/v1/agent-versions/0.9.1/rollout/cancel", headers=app.auth())
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["done"] and cancelled.json()["counts"]["cancelled"] == 1
    await state.updates.rollouts.advance()
    found = await rows(app.client, "0.9.1", app.auth())
    assert found[a]["state"] == "cancelled"
    assert re.fullmatch(r"rollout cancelled by token:[0-9a-f]{32}", found[a]["reason"]), found[a]["reason"]
    assert found[b]["state"] == "connected", "only rows still waiting are cancelled"
    audit = await app.client.get(
        "/api/v1/audit", params={"action": "agent_version.rollout"}, headers=app.auth()
    )
    assert [e["detail"]["retried"] for e in audit.json()["items"]] == [1, 0]
