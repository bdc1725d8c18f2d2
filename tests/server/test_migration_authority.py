"""Migration 0009 on a database written by 0008: owners and token creators recorded by name become ids
where that is certain (users, the CLI) and `unresolved:` where it is not (token names), and a
schedule's library script that named no version is pinned to the one it would have run."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from borealis.server.db import migrate
from borealis.server.db.database import Database

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _rows_of_0008(conn: Connection) -> None:
    meta = sa.MetaData()
    table = {
        name: sa.Table(name, meta, autoload_with=conn)
        for name in ("users", "api_tokens", "scripts", "schedules", "workflows")
    }
    conn.execute(
        table["users"].insert(),
        [
            {
                "id": "u1",
                "username": "olivia",
                "password_hash": "x",
                "role": "operator",
                "disabled": False,
                "created_at": NOW,
            }
        ],
    )
    token = {"secret_hash": "0" * 64, "scopes": ["tokens:write"], "created_at": NOW}
    conn.execute(
        table["api_tokens"].insert(),
        [
            {**token, "id": "t1", "name": "admin", "created_by": "cli:admin-cli"},
            {**token, "id": "t2", "name": "child", "created_by": "token:admin"},
            {**token, "id": "t3", "name": "mine", "created_by": "user:olivia", "user_id": "u1"},
        ],
    )
    conn.execute(
        table["scripts"].insert(),
        [
            {
                "id": "s1",
                "name": "probe",
                "language": "bash",
                "body": "echo v2",
                "parameters": {},
                "description": "",
                "version": 2,
                "created_by": "user:olivia",
                "created_at": NOW,
                "updated_by": "user:olivia",
                "updated_at": NOW,
            }
        ],
    )
    schedule: dict[str, Any] = {
        "cron": None,
        "interval_s": 60,
        "timezone": "UTC",
        "anchor_at": NOW,
        "misfire": "skip",
        "grace_s": 60.0,
        "overlap": "allow",
        "enabled": True,
        "next_run_at": NOW,
        "run_count": 0,
        "version": 1,
        "created_by": "x",
        "created_at": NOW,
        "updated_by": "x",
        "updated_at": NOW,
    }
    job = {"role": "script", "params": {"script_id": "s1"}, "target": {"all": True}}
    conn.execute(
        table["schedules"].insert(),
        [
            {
                **schedule,
                "id": "a",
                "name": "a",
                "owner": "user:olivia",
                "action": {"type": "job", "job": job},
            },
            {
                **schedule,
                "id": "b",
                "name": "b",
                "owner": "token:admin",
                "action": {"type": "workflow", "workflow_id": "w", "input": {}},
            },
        ],
    )
    conn.execute(
        table["workflows"].insert(),
        [
            {
                "id": "w1",
                "name": "w",
                "description": "",
                "document": {},
                "version": 1,
                "enabled": True,
                "created_by": "cli:admin-cli",
                "created_at": NOW,
                "updated_by": "user:olivia",
                "updated_at": NOW,
            }
        ],
    )


async def test_0009_records_owners_by_id_and_pins_schedules_scripts(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url or f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(migrate._config(sync), "0008"))
            await conn.run_sync(_rows_of_0008)
        await migrate.upgrade(db)
        async with db.engine.connect() as conn:
            creators = dict((await conn.execute(sa.text("SELECT id, created_by FROM api_tokens"))).all())
            owners = {
                row[0]: (row[1], row[2])
                for row in (await conn.execute(sa.text("SELECT id, owner, owner_name FROM schedules"))).all()
            }
            workflow = (await conn.execute(sa.text("SELECT owner, owner_name FROM workflows"))).one()
            meta = sa.MetaData()
            schedules = await conn.run_sync(lambda sync: sa.Table("schedules", meta, autoload_with=sync))
            actions = dict((await conn.execute(sa.select(schedules.c.id, schedules.c.action))).all())
    finally:
        await db.close()
    assert creators == {"t1": "cli:cli", "t2": "unresolved:token:admin", "t3": "user:u1"}
    assert owners == {"a": ("user:u1", "olivia"), "b": ("unresolved:token:admin", "admin")}
    assert tuple(workflow) == ("user:u1", "olivia")
    params = actions["a"]["job"]["params"]
    assert params == {
        "script_id": "s1",
        "script_version": 2,
        "script_sha256": hashlib.sha256(b"echo v2").hexdigest(),
    }
    assert actions["b"] == {"type": "workflow", "workflow_id": "w", "input": {}}
