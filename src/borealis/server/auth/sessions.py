"""Console login sessions: an HttpOnly cookie plus a CSRF token for requests that change things."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import utcnow
from borealis.core.errors import NotAuthenticated
from borealis.core.ids import new_id
from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import ROLE_SCOPES, Role
from borealis.server.auth.secrets import digest, matches, new_secret, split_credential
from borealis.server.db.models import LoginSession, User

COOKIE = "borealis_session"
CSRF_HEADER = "x-csrf-token"
PREFIX = "brs_"


async def open_session(session: AsyncSession, user: User, ttl_s: float) -> tuple[str, str]:
    """Returns (cookie value, csrf token)."""
    ident, secret, csrf = new_id(), new_secret(), new_secret()
    now = utcnow()
    session.add(
        LoginSession(
            id=ident,
            secret_hash=digest(secret),
            csrf_hash=digest(csrf),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    user.last_login_at = now
    await session.flush()
    return f"{PREFIX}{ident}_{secret}", csrf


async def authenticate_cookie(
    session: AsyncSession, cookie: str, csrf: str | None, needs_csrf: bool
) -> Principal:
    parts = split_credential(cookie, PREFIX)
    login = await session.get(LoginSession, parts[0]) if parts else None
    if parts is None or login is None or not matches(parts[1], login.secret_hash):
        raise NotAuthenticated("invalid session; log in again")
    if login.revoked_at is not None or login.expires_at <= utcnow():
        raise NotAuthenticated("session has ended; log in again")
    if needs_csrf and (csrf is None or not matches(csrf, login.csrf_hash)):
        raise NotAuthenticated(f"missing or wrong {CSRF_HEADER} header for a cookie session")
    user = await session.get(User, login.user_id)
    if user is None or user.disabled:
        raise NotAuthenticated("account is disabled")
    return Principal(
        kind="user",
        id=login.id,
        name=user.username,
        scopes=ROLE_SCOPES[Role(user.role)],
        user_id=user.id,
        via_cookie=True,
    )


async def close_session(session: AsyncSession, session_id: str) -> None:
    login = await session.get(LoginSession, session_id)
    if login is not None and login.revoked_at is None:
        login.revoked_at = utcnow()


async def end_user_sessions(session: AsyncSession, user_id: str, keep: str | None = None) -> int:
    """Revoke every open console session of the user except `keep`; returns how many ended."""
    query = (
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if keep is not None:
        query = query.where(LoginSession.id != keep)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)
