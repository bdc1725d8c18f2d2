"""The request guard: every API route declares the scope it needs with `Depends(RequireScope(...))`.

Bearer tokens (`Authorization: Bearer brt_…`) and console cookies are both accepted; a cookie session
must also send its CSRF token on requests that change things.
"""

from __future__ import annotations

from fastapi import Request

from borealis.core.errors import Forbidden, NotAuthenticated
from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import Scope
from borealis.server.auth.sessions import COOKIE, CSRF_HEADER, authenticate_cookie
from borealis.server.auth.tokens import authenticate_token
from borealis.server.state import state_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def authenticate(request: Request) -> Principal:
    db = state_of(request).db
    header = request.headers.get("authorization", "")
    async with db.session() as session:
        if header:
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer" or not credential:
                raise NotAuthenticated("use 'Authorization: Bearer <token>'")
            return await authenticate_token(session, credential.strip())
        cookie = request.cookies.get(COOKIE)
        if cookie:
            needs_csrf = request.method not in SAFE_METHODS
            return await authenticate_cookie(session, cookie, request.headers.get(CSRF_HEADER), needs_csrf)
    raise NotAuthenticated("authentication required: send an API token or log in")


class RequireScope:
    """A dependency that authenticates the request and checks one scope; the route walk test reads it."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.may(self.scope):
            raise Forbidden(f"this needs the {self.scope.value!r} scope")
        request.state.principal = principal
        return principal
