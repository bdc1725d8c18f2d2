"""What `borealis admin` does, on the server home directly (it opens the database; no server needed)."""

from __future__ import annotations

from datetime import timedelta

from borealis.core.clock import utcnow
from borealis.core.home import ensure_dir
from borealis.core.settings import ServerSettings
from borealis.protocol import keys
from borealis.server import audit
from borealis.server.auth.principal import CLI
from borealis.server.auth.scopes import Role, Scope
from borealis.server.auth.tokens import create_token
from borealis.server.auth.users import create_user as create_user_row
from borealis.server.auth.users import find_by_name
from borealis.server.db import migrate
from borealis.server.db.database import Database
from borealis.server.enrollment import agent_url, install_code
from borealis.server.enrollment import create_enrollment as create_enrollment_row
from borealis.server.keys import server_key
from borealis.server.tls import pinned_fingerprint


async def _open(settings: ServerSettings) -> Database:
    ensure_dir(settings.home.server)
    db = Database(settings.database_url)
    await migrate.upgrade(db)
    return db


async def create_user(settings: ServerSettings, username: str, role: Role, password: str) -> None:
    db = await _open(settings)
    try:
        async with db.transaction() as session:
            await create_user_row(session, username, role, password)
            audit.record(session, CLI.actor, "user.create", username, role=role.value)
    finally:
        await db.close()


async def user_exists(settings: ServerSettings, username: str) -> bool:
    db = await _open(settings)
    try:
        async with db.session() as session:
            return await find_by_name(session, username) is not None
    finally:
        await db.close()


async def create_token_secret(
    settings: ServerSettings, name: str, scopes: frozenset[Scope], expires_in: timedelta | None
) -> str:
    db = await _open(settings)
    try:
        async with db.transaction() as session:
            expires = utcnow() + expires_in if expires_in else None
            token, secret = await create_token(session, name, scopes, CLI.actor, expires)
            audit.record(session, CLI.actor, "token.create", token.id, name=name)
        return secret
    finally:
        await db.close()


async def create_install_code(
    settings: ServerSettings,
    uses: int,
    expires_in: timedelta,
    tags: list[str],
    approval_required: bool,
    server_url: str | None,
) -> str:
    url = agent_url(server_url or settings.base_url)
    db = await _open(settings)
    try:
        async with db.transaction() as session:
            row, secret = await create_enrollment_row(
                session, CLI.actor, uses, expires_in, tags, approval_required
            )
            audit.record(session, CLI.actor, "enrollment.create", row.id, uses=uses)
        return install_code(
            url, keys.fingerprint(server_key(settings.home)), secret, pinned_fingerprint(settings)
        )
    finally:
        await db.close()
