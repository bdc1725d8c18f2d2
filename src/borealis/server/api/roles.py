"""Role modules for the agents: upload a new version (admin only: it is code every targeted agent
runs as root), list, read with versions and the agents' reports, withdraw."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from borealis.core.clock import iso
from borealis.protocol.roles import MAX_ROLE_BYTES
from borealis.server.api.common import AgentsRead, client_ip
from borealis.server.api.guard import RequireScope
from borealis.server.api.schemas.distribution import RoleModuleDetail, RoleModulePage, RoleModuleView
from borealis.server.auth.principal import Principal
from borealis.server.auth.scopes import Scope
from borealis.server.db.models import RoleModule
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/roles", tags=["roles"])
AdminOnly = Annotated[Principal, Depends(RequireScope(Scope.ADMIN))]


class NewRoleModule(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    body: str = Field(min_length=1, max_length=MAX_ROLE_BYTES)
    target: dict[str, Any] = Field(default_factory=lambda: {"all": True}, max_length=1)
    description: str = Field(default="", max_length=1024)


def _view(row: RoleModule, *, with_body: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "name": row.name,
        "version": row.version,
        "sha256": row.sha256,
        "target": row.target,
        "description": row.description,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "withdrawn_at": iso(row.withdrawn_at) if row.withdrawn_at else None,
    }
    if with_body:
        view["body"] = row.body
    return view


@router.post("", status_code=201, response_model=RoleModuleView)
async def upload_role(body: NewRoleModule, request: Request, who: AdminOnly) -> dict[str, Any]:
    modules = state_of(request).role_modules
    row = await modules.upload(
        body.name, body.body, body.target, body.description, who.actor, client_ip(request)
    )
    return _view(row)


@router.get("", response_model=RoleModulePage)
async def list_roles(request: Request, who: AgentsRead) -> dict[str, Any]:
    rows = await state_of(request).role_modules.listing()
    return {"items": [_view(row) for row in rows], "next_cursor": None}


@router.get("/{name}", response_model=RoleModuleDetail)
async def one_role(name: str, request: Request, who: AgentsRead) -> dict[str, Any]:
    modules = state_of(request).role_modules
    rows = await modules.versions(name[:64])
    view = _view(rows[0], with_body=True)
    view["versions"] = [_view(row) for row in rows]
    reports = modules.reports.get(rows[0].name, {})
    view["agents"] = [{"agent_id": agent_id, **report} for agent_id, report in sorted(reports.items())]
    return view


@router.delete("/{name}", status_code=204)
async def withdraw_role(name: str, request: Request, who: AdminOnly) -> Response:
    await state_of(request).role_modules.withdraw(name[:64], who.actor, client_ip(request))
    return Response(status_code=204)
