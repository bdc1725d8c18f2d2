"""Operator accounts: create, look up, change, and check a password."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import utcnow
from borealis.core.errors import Conflict, InvalidInput, NotFound
from borealis.core.ids import new_id
from borealis.server.auth.scopes import Role
from borealis.server.auth.secrets import hash_password, hash_password_off_loop, verify_password_off_loop
from borealis.server.db.models import ApiToken, User

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# Verifying against a fixed hash when the user does not exist keeps the timing the same.
_DUMMY_HASH = hash_password("borealis-timing-equalizer")


async def create_user(session: AsyncSession, username: str, role: Role, password: str) -> User:
    if not USERNAME.match(username):
        raise InvalidInput("username: 1-64 letters, digits, '.', '_', '@' or '-'", field="username")
    if await find_by_name(session, username) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(
        id=new_id(),
        username=username,
        password_hash=await hash_password_off_loop(password),
        role=role.value,
        disabled=False,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # another request created the same name since the check above
        raise Conflict(f"user {username!r} already exists") from exc
    return user


async def find_by_name(session: AsyncSession, username: str) -> User | None:
    return (await session.scalars(select(User).where(User.username == username))).first()


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    return user


async def check_login(session: AsyncSession, username: str, password: str) -> User | None:
    user = await find_by_name(session, username)
    if user is None:
        await verify_password_off_loop(_DUMMY_HASH, password)
        return None
    if not await verify_password_off_loop(user.password_hash, password) or user.disabled:
        return None
    return user


async def revoke_user_tokens(session: AsyncSession, user_id: str) -> int:
    """Revoke every API token the user owns; returns how many."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
