"""Who is making a request, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass

from borealis.server.auth.scopes import Scope, grants


class Actor(str):
    """A principal as it is recorded (`user:<user id>`, `token:<token id>`, `cli:cli`): an id, never a
    display name, so two principals named alike are never one. `display` carries the name for audit rows."""

    display: str

    def __new__(cls, ref: str, display: str = "") -> Actor:
        made = super().__new__(cls, ref)
        made.display = display
        return made


def display_of(actor: str) -> str:
    """The display name an `Actor` carries ("" for a plain string), cut to the columns' size."""
    return str(getattr(actor, "display", ""))[:128]


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" (console session), "token", or "cli" (admin commands on the home)
    id: str
    name: str
    scopes: frozenset[Scope]
    user_id: str | None = None
    via_cookie: bool = False

    @property
    def actor(self) -> Actor:
        """The principal's id as owners, creators and audit rows record it (a user by user id, not by
        login session)."""
        ident = self.user_id if self.kind == "user" and self.user_id else self.id
        return Actor(f"{self.kind}:{ident}", self.name)

    def may(self, scope: Scope) -> bool:
        return grants(self.scopes, scope)


CLI = Principal(kind="cli", id="cli", name="admin-cli", scopes=frozenset({Scope.ADMIN}))
