"""Install codes: create (the code is in the response, once), list, revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from borealis.core.clock import utcnow
from borealis.core.errors import Conflict
from borealis.protocol import keys
from borealis.server import audit
from borealis.server.api.common import EnrollmentsRead, EnrollmentsWrite, client_ip
from borealis.server.api.schemas.fleet import EnrollmentPage, NewEnrollmentView
from borealis.server.db.models import Enrollment
from borealis.server.enrollment import (
    agent_url,
    create_enrollment,
    enrollment_view,
    get_enrollment,
    install_code,
)
from borealis.server.state import state_of
from borealis.server.tls import pinned_fingerprint

router = APIRouter(prefix="/api/v1/enrollments", tags=["enrollment"])


class NewEnrollment(BaseModel):
    uses: int = Field(default=1, ge=1, le=100_000)
    expires_in_s: int = Field(default=86400, ge=60, le=365 * 86400)
    tags: list[str] = Field(default_factory=list, max_length=64)
    approval_required: bool = False
    note: str = Field(default="", max_length=256)
    server_url: str | None = Field(
        default=None, max_length=512, description="URL agents use; defaults to the server's public URL"
    )


@router.get("", response_model=EnrollmentPage)
async def list_enrollments(request: Request, who: EnrollmentsRead) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        rows = (await session.scalars(select(Enrollment).order_by(Enrollment.id.desc()))).all()
    return {"items": [enrollment_view(r) for r in rows], "next_cursor": None}


@router.post("", status_code=201, response_model=NewEnrollmentView)
async def add_enrollment(body: NewEnrollment, request: Request, who: EnrollmentsWrite) -> dict[str, Any]:
    state = state_of(request)
    url = agent_url(body.server_url or state.settings.base_url)
    async with state.db.transaction() as session:
        row, secret = await create_enrollment(
            session,
            who.actor,
            body.uses,
            timedelta(seconds=body.expires_in_s),
            body.tags,
            body.approval_required,
            body.note,
        )
        audit.record(
            session, who.actor, "enrollment.create", row.id, client_ip(request), uses=row.uses_allowed
        )
    code = install_code(url, keys.fingerprint(state.key), secret, pinned_fingerprint(state.settings))
    return {**enrollment_view(row), "install_code": code}


@router.delete("/{enrollment_id}", status_code=204)
async def revoke_enrollment(enrollment_id: str, request: Request, who: EnrollmentsWrite) -> None:
    async with state_of(request).db.transaction() as session:
        row = await get_enrollment(session, enrollment_id)
        if row.revoked_at is not None:
            raise Conflict("install code is already revoked")
        row.revoked_at = utcnow()
        audit.record(session, who.actor, "enrollment.revoke", row.id, client_ip(request))
