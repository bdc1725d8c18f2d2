"""Who is making a request, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass

from borealis.server.auth.scopes import Scope, grants


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" (console session), "token", or "cli" (admin commands on the home)
    id: str
    name: str
    scopes: frozenset[Scope]
    user_id: str | None = None
    via_cookie: bool = False

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    def may(self, scope: Scope) -> bool:
        return grants(self.scopes, scope)


CLI = Principal(kind="cli", id="cli", name="admin-cli", scopes=frozenset({Scope.ADMIN}))
