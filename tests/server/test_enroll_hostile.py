"""Enrollment against hostile input: one public key enrolls once, refusals are throttled per address
(no audit row past the limit), and hostnames with control characters are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from sqlalchemy import insert, select

from borealis.core.clock import utcnow
from borealis.protocol import keys
from borealis.server.auth.throttle import MAX_FAILURES
from borealis.server.db import migrate
from borealis.server.db.database import Database
from borealis.server.db.models import Agent
from tests.conftest import App
from tests.server.fleet import enroll, new_install_code


@asynccontextmanager
async def client_from(app: App, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app.app, client=(address, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def audit(app: App, action: str) -> list[dict[str, Any]]:
    response = await app.client.get(
        "/api/v1/audit", params={"action": action, "limit": 1000}, headers=app.auth()
    )
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_same_public_key_cannot_enroll_twice(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), uses=5)
    key = keys.generate()
    assert (await enroll(app.client, code["secret"], key, hostname="first")).status_code == 201
    again = await enroll(app.client, code["secret"], key, hostname="clone")
    assert again.status_code == 403 and "already enrolled" in again.json()["detail"]
    # Another spelling of the same key (padding) is the same key.
    padded = await enroll(
        app.client, code["secret"], hostname="clone-2", public_key=keys.public_b64(key) + "="
    )
    assert padded.status_code == 403 and "already enrolled" in padded.json()["detail"]
    listed = (await app.client.get("/api/v1/enrollments", headers=app.auth())).json()["items"]
    assert next(row for row in listed if row["id"] == code["id"])["uses_count"] == 1
    agents = (await app.client.get("/api/v1/agents", headers=app.auth())).json()["items"]
    assert [a["hostname"] for a in agents] == ["first"]


async def test_one_key_racing_itself_enrolls_once(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), uses=10)
    key = keys.generate()
    answers = await asyncio.gather(
        *(enroll(app.client, code["secret"], key, hostname=f"h{i}") for i in range(6))
    )
    assert sorted(r.status_code for r in answers) == [201] + [403] * 5
    assert len((await app.client.get("/api/v1/agents", headers=app.auth())).json()["items"]) == 1


async def test_refused_enrollments_are_throttled_per_address(app: App) -> None:
    async with client_from(app, "203.0.113.5") as stranger:
        statuses = [
            (await enroll(stranger, f"wrong-secret-{i}")).status_code for i in range(MAX_FAILURES + 5)
        ]
    assert statuses == [403] * MAX_FAILURES + [429] * 5
    assert len(await audit(app, "agent.enroll_refused")) == MAX_FAILURES
    code = await new_install_code(app.client, app.auth())
    async with client_from(app, "203.0.113.6") as neighbour:  # another address enrolls as usual
        assert (await enroll(neighbour, code["secret"])).status_code == 201


async def test_hostnames_with_control_characters_are_refused_and_facts_cleaned(app: App) -> None:
    code = await new_install_code(app.client, app.auth(), uses=5)
    for hostname in ("evil\nlevel=error msg=forged", "\x1b[31mred\x1b[0m", "nul\x00", "   "):
        answer = await enroll(app.client, code["secret"], hostname=hostname)
        # NUL is refused at the edge for every request (400); other control characters by the route (422).
        assert answer.status_code == (400 if "\x00" in hostname else 422), (hostname, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert await audit(app, "agent.enroll_refused") == []
    answer = await enroll(
        app.client, code["secret"], hostname="web-01", facts={"os": "linux\x1b[2J", "version": "0.1.0"}
    )
    assert answer.status_code == 201
    agent = (await app.client.get(f"/api/v1/agents/{answer.json()['agent_id']}", headers=app.auth())).json()
    assert agent["os"] == "linux?[2J"


async def test_the_migration_revokes_agents_that_already_share_a_key(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url or f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(migrate._config(sync), "0008"))
            shared = keys.public_b64(keys.generate())
            rows = [
                {"id": f"{i:032x}", "public_key": shared, "state": "active", "enrolled_at": utcnow()}
                for i in range(1, 4)
            ]
            common = {
                "hostname": "h",
                "os": "",
                "os_version": "",
                "arch": "",
                "version": "",
                "tags": [],
                "facts": {},
                "notes": "",
            }
            await conn.execute(insert(Agent), [{**common, **row} for row in rows])
        await migrate.upgrade(db)
        async with db.session() as session:
            states = dict((await session.execute(select(Agent.id, Agent.state).order_by(Agent.id))).all())
        assert states == {f"{1:032x}": "active", f"{2:032x}": "revoked", f"{3:032x}": "revoked"}
    finally:
        await db.close()
