"""Alembic, driven from code: upgrade at server start, and the "are we current" check of /readyz."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from borealis.server.db.database import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_KEY = 0x426F7265  # one process migrates at a time


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # Take the write lock before reading the version, so processes opening a fresh home at once
        # (a server and an admin command, say) take turns instead of both creating the tables.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    command.upgrade(_config(connection), "head")


async def upgrade(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
