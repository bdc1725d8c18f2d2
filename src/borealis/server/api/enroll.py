"""`POST /api/v1/enroll`: an agent trades an install code's secret and its public key for an identity.

Public (the secret is the credential). Refusals are 403 problems that say why; they leave no agent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from borealis.core.errors import EnrollmentRefused
from borealis.protocol import keys
from borealis.server import audit
from borealis.server.api.common import client_ip
from borealis.server.api.schemas.fleet import Enrolled
from borealis.server.enrollment import NewAgent, redeem
from borealis.server.state import state_of

router = APIRouter(tags=["enrollment"])


class EnrollRequest(BaseModel):
    secret: str = Field(min_length=1, max_length=128)
    public_key: str = Field(min_length=40, max_length=64)
    hostname: str = Field(min_length=1, max_length=255)
    facts: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=64)


@router.post("/api/v1/enroll", status_code=201, response_model=Enrolled)
async def enroll(body: EnrollRequest, request: Request) -> dict[str, Any]:
    state = state_of(request)
    keys.public_from_b64(body.public_key)  # refuse a malformed key before spending a use
    facts = {k[:64]: (v[:256] if isinstance(v, str) else v) for k, v in body.facts.items()}
    try:
        async with state.db.transaction() as session:
            agent = await redeem(session, body.secret, NewAgent(body.hostname, body.public_key, facts))
            audit.record(
                session,
                f"agent:{agent.id}",
                "agent.enroll",
                agent.id,
                client_ip(request),
                hostname=agent.hostname,
                enrollment=agent.enrollment_id,
                state=agent.state,
            )
    except EnrollmentRefused as refused:
        async with state.db.transaction() as session:
            audit.record(
                session,
                f"host:{body.hostname}",
                "agent.enroll_refused",
                None,
                client_ip(request),
                reason=refused.detail,
            )
        raise
    return {
        "agent_id": agent.id,
        "status": agent.state,
        "server_public_key": keys.public_b64(state.key),
        "heartbeat_s": state.settings.heartbeat_s,
    }
