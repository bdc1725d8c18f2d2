"""Operator accounts (admin only, through the users:* scopes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from borealis.core.clock import iso
from borealis.server import audit
from borealis.server.api.common import UsersRead, UsersWrite, client_ip
from borealis.server.api.schemas.operators import UserPage, UserView
from borealis.server.auth.scopes import parse_role
from borealis.server.auth.secrets import hash_password_off_loop
from borealis.server.auth.sessions import end_user_sessions
from borealis.server.auth.users import create_user, get_user, revoke_user_tokens
from borealis.server.db.models import User
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": iso(user.created_at),
        "last_login_at": iso(user.last_login_at),
    }


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: str = Field(max_length=16)
    password: str = Field(min_length=1, max_length=1024)


class UserChange(BaseModel):
    role: str | None = Field(default=None, max_length=16)
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    # A new password ends the user's console sessions (all but the caller's own); with this, the
    # user's API tokens are revoked too (a reset after a compromise).
    revoke_tokens: bool = False


@router.get("", response_model=UserPage)
async def list_users(request: Request, who: UsersRead) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        users = (await session.scalars(select(User).order_by(User.username))).all()
    return {"items": [user_view(u) for u in users], "next_cursor": None}


@router.post("", status_code=201, response_model=UserView)
async def add_user(body: NewUser, request: Request, who: UsersWrite) -> dict[str, Any]:
    role = parse_role(body.role)
    async with state_of(request).db.transaction() as session:
        user = await create_user(session, body.username, role, body.password)
        audit.record(session, who.actor, "user.create", user.username, client_ip(request), role=role.value)
    return user_view(user)


@router.patch("/{user_id}", response_model=UserView)
async def change_user(user_id: str, body: UserChange, request: Request, who: UsersWrite) -> dict[str, Any]:
    async with state_of(request).db.transaction() as session:
        user = await get_user(session, user_id)
        changed: list[str] = []
        if body.role is not None:
            user.role = parse_role(body.role).value
            changed.append("role")
        if body.disabled is not None:
            user.disabled = body.disabled
            changed.append("disabled")
        ended: dict[str, Any] = {}  # counts, as audit detail
        if body.password is not None:
            user.password_hash = await hash_password_off_loop(body.password)
            changed.append("password")
            own = who.id if who.via_cookie and who.user_id == user.id else None
            ended["sessions_ended"] = await end_user_sessions(session, user.id, keep=own)
        if body.revoke_tokens:
            ended["tokens_revoked"] = await revoke_user_tokens(session, user.id)
        audit.record(
            session, who.actor, "user.update", user.username, client_ip(request), fields=changed, **ended
        )
    return user_view(user)
