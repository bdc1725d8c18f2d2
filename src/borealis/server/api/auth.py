"""Console login: a session cookie (HttpOnly, SameSite=Strict) and a CSRF token for changes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from borealis.core.clock import utcnow
from borealis.core.errors import NotAuthenticated
from borealis.server import audit
from borealis.server.api.common import client_ip
from borealis.server.api.guard import authenticate
from borealis.server.api.schemas.operators import LoggedIn, Me
from borealis.server.auth.sessions import COOKIE, close_session, open_session
from borealis.server.auth.users import check_login
from borealis.server.db.models import ApiToken
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login", response_model=LoggedIn)
async def login(body: Login, request: Request, response: Response) -> dict[str, object]:
    state = state_of(request)
    ip = client_ip(request) or "?"
    key = (ip, body.username)
    # Counted before the hash and admitted to a bounded hash queue, so a flood is refused early (429/503).
    state.login_throttle.attempt(key)
    with state.login_gate.admit(ip):
        async with state.db.transaction() as session:
            user = await check_login(session, body.username, body.password)
            if user is None:
                audit.record(session, f"user:{body.username}", "auth.login_failed", ip=ip)
            else:
                state.login_throttle.succeeded(key)
                cookie, csrf = await open_session(session, user, state.settings.session_ttl_s)
                audit.record(session, f"user:{user.id}", "auth.login", ip=ip, actor_name=user.username)
    if user is None:
        raise NotAuthenticated("wrong username or password")
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(state.settings.session_ttl_s),
        httponly=True,
        samesite="strict",
        # Over TLS here, or behind a proxy that terminates it (the public URL is https://).
        secure=request.url.scheme == "https" or state.settings.base_url.startswith("https://"),
        path="/",
    )
    return {"username": user.username, "role": user.role, "csrf_token": csrf, "at": utcnow().isoformat()}


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response) -> None:
    """End the console session; called with an API token, revoke that token (`borealis logout`)."""
    principal = await authenticate(request)
    if principal.kind == "user":
        async with state_of(request).db.transaction() as session:
            await close_session(session, principal.id)
            audit.record(session, principal.actor, "auth.logout", ip=client_ip(request))
    elif principal.kind == "token":
        async with state_of(request).db.transaction() as session:
            token = await session.get(ApiToken, principal.id)
            if token is not None and token.revoked_at is None:
                token.revoked_at = utcnow()
                audit.record(
                    session, principal.actor, "token.revoke", token.id, client_ip(request), name=token.name
                )
    response.delete_cookie(COOKIE, path="/")


@router.get("/me", response_model=Me)
async def me(request: Request) -> dict[str, object]:
    principal = await authenticate(request)
    return {
        "kind": principal.kind,
        "name": principal.name,
        "scopes": sorted(s.value for s in principal.scopes),
    }
