"""Operators as the API shows them: users, API tokens, console sessions and the audit log."""

from __future__ import annotations

from typing import Literal

from borealis.server.api.schemas.common import JsonObject, Page, Schema, Timestamp
from borealis.server.auth.scopes import Role


class UserView(Schema):
    id: str
    username: str
    role: Role
    disabled: bool
    created_at: Timestamp
    last_login_at: Timestamp | None


class UserPage(Page[UserView]):
    pass


class TokenView(Schema):
    id: str
    name: str
    scopes: list[str]
    created_by: str
    created_at: Timestamp
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    last_used_at: Timestamp | None


class NewTokenView(TokenView):
    token: str


class TokenPage(Page[TokenView]):
    pass


class LoggedIn(Schema):
    username: str
    role: Role
    csrf_token: str
    at: Timestamp


class Me(Schema):
    kind: Literal["user", "token"]
    name: str
    scopes: list[str]


class AuditEntryView(Schema):
    id: int
    at: Timestamp
    actor: str
    actor_name: str | None
    action: str
    target: str | None
    detail: JsonObject
    ip: str | None


class AuditPage(Page[AuditEntryView]):
    pass


class ActorView(Schema):
    id: str
    name: str | None


class ActorList(Schema):
    items: list[ActorView]
