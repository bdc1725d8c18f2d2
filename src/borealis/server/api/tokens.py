"""API tokens: create (the secret is in the response, once), list, revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from borealis.core.clock import utcnow
from borealis.core.errors import Conflict, Forbidden, NotFound
from borealis.server import audit
from borealis.server.api.common import TokensWrite, client_ip
from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import Scope, parse_scopes
from borealis.server.auth.tokens import create_token, token_view
from borealis.server.db.models import ApiToken
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
MAX_EXPIRY_S = 5 * 365 * 86400


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    scopes: list[str] = Field(min_length=1, max_length=32)
    expires_in_s: int | None = Field(default=None, ge=60, le=MAX_EXPIRY_S)


def _owned(principal: Principal) -> Any:
    """Admins see every token; others only the ones they created."""
    query = select(ApiToken).order_by(ApiToken.id)
    if not principal.may(Scope.ADMIN):
        query = query.where(ApiToken.created_by == principal.actor)
    return query


@router.get("")
async def list_tokens(request: Request, who: TokensWrite) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        tokens = (await session.scalars(_owned(who))).all()
    return {"items": [token_view(t) for t in tokens], "next_cursor": None}


@router.post("", status_code=201)
async def add_token(body: NewToken, request: Request, who: TokensWrite) -> dict[str, Any]:
    scopes = parse_scopes(body.scopes)
    beyond = [s.value for s in scopes if not who.may(s)]
    if beyond:
        raise Forbidden(f"a token cannot have scopes its creator lacks: {beyond}")
    expires = utcnow() + timedelta(seconds=body.expires_in_s) if body.expires_in_s else None
    async with state_of(request).db.transaction() as session:
        token, secret = await create_token(session, body.name, scopes, who.actor, expires, who.user_id)
        audit.record(session, who.actor, "token.create", token.id, client_ip(request), name=token.name)
    return {**token_view(token), "token": secret}


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: str, request: Request, who: TokensWrite) -> None:
    async with state_of(request).db.transaction() as session:
        token = (await session.scalars(_owned(who).where(ApiToken.id == token_id))).first()
        if token is None:
            raise NotFound(f"no token {token_id!r}")
        if token.revoked_at is not None:
            raise Conflict("token is already revoked")
        token.revoked_at = utcnow()
        audit.record(session, who.actor, "token.revoke", token.id, client_ip(request), name=token.name)
