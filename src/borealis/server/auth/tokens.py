"""API tokens: `brt_<id>_<secret>`, shown once, stored as a SHA-256 digest, scoped, revocable."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import iso, utcnow
from borealis.core.errors import InvalidInput, NotAuthenticated
from borealis.core.ids import new_id
from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import ROLE_SCOPES, Role, Scope, grants
from borealis.server.auth.secrets import digest, matches, new_secret, split_credential
from borealis.server.db.models import ApiToken, User

PREFIX = "brt_"
LAST_USED_RESOLUTION = timedelta(seconds=60)
MAX_CREATOR_DEPTH = 8  # tokens made by tokens made by tokens…: checked this deep


async def create_token(
    session: AsyncSession,
    name: str,
    scopes: frozenset[Scope],
    created_by: str,
    expires_at: datetime | None,
    user_id: str | None = None,
) -> tuple[ApiToken, str]:
    if not name or len(name) > 128:
        raise InvalidInput("token name: 1-128 characters", field="name")
    ident, secret = new_id(), new_secret()
    token = ApiToken(
        id=ident,
        name=name,
        secret_hash=digest(secret),
        scopes=sorted(s.value for s in scopes),
        user_id=user_id,
        created_by=created_by,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    return token, f"{PREFIX}{ident}_{secret}"


async def authenticate_token(session: AsyncSession, credential: str) -> Principal:
    parts = split_credential(credential, PREFIX)
    token = await session.get(ApiToken, parts[0]) if parts else None
    if parts is None or token is None or not matches(parts[1], token.secret_hash):
        raise NotAuthenticated("invalid API token")
    scopes = await token_scopes(session, token)
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        await session.commit()
    return Principal(kind="token", id=token.id, name=token.name, scopes=scopes, user_id=token.user_id)


async def user_scopes(session: AsyncSession, user_id: str) -> frozenset[Scope]:
    """What a user may do now: their role's scopes, unless the user is gone or disabled."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotAuthenticated(f"user {user_id} no longer exists")
    if user.disabled:
        raise NotAuthenticated(f"user {user.username!r} ({user_id}) is disabled")
    return ROLE_SCOPES[Role(user.role)]


async def token_scopes(session: AsyncSession, token: ApiToken, depth: int = 0) -> frozenset[Scope]:
    """What a token may do now: its scopes, never more than what its user's role grants today nor
    what the token or user that created it may still do. Raises `NotAuthenticated` with the reason
    when it may do nothing (revoked, expired, its user disabled, its creator revoked…)."""
    now = utcnow()
    if token.revoked_at is not None:
        raise NotAuthenticated(f"API token {token.name!r} ({token.id}) has been revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise NotAuthenticated(f"API token {token.name!r} ({token.id}) has expired")
    scopes = frozenset(Scope(s) for s in token.scopes if s in Scope._value2member_map_)
    if token.user_id is not None:
        # A token made by a user acts for that user: never more than the user's role grants today.
        try:
            held = await user_scopes(session, token.user_id)
        except NotAuthenticated as gone:
            raise NotAuthenticated(f"the API token's user is disabled ({gone.detail})") from None
        scopes = frozenset(s for s in scopes if grants(held, s))
    kind, _, ident = token.created_by.partition(":")
    if kind == "token" and depth < MAX_CREATOR_DEPTH:
        creator = await session.get(ApiToken, ident)
        if creator is None:
            raise NotAuthenticated(f"the token that created API token {token.id} no longer exists")
        try:
            held = await token_scopes(session, creator, depth + 1)
        except NotAuthenticated as gone:
            raise NotAuthenticated(f"the token that created API token {token.id}: {gone.detail}") from None
        scopes = frozenset(s for s in scopes if grants(held, s))
    elif kind == "user" and ident != token.user_id:
        held = await user_scopes(session, ident)
        scopes = frozenset(s for s in scopes if grants(held, s))
    return scopes


def token_view(token: ApiToken) -> dict[str, object]:
    return {
        "id": token.id,
        "name": token.name,
        "scopes": token.scopes,
        "created_by": token.created_by,
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "revoked_at": iso(token.revoked_at),
        "last_used_at": iso(token.last_used_at),
    }
