"""`POST /api/v1/enroll`: an agent trades an install code's secret and its public key for an identity.

Public (the secret is the credential). Refusals are 403 problems that say why; they leave no agent.
Refusals are counted per client address: past the throttle's limit the address gets 429 at once, with
no lookup and no audit row, so a flood cannot fill the audit log. A hostname with control characters
(newlines, ANSI escapes) is refused (422); control characters in facts are replaced by `?`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from borealis.core.errors import EnrollmentRefused
from borealis.core.text import has_control, without_control
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

    @field_validator("hostname")
    @classmethod
    def _plain_hostname(cls, value: str) -> str:
        if has_control(value) or not value.strip():
            raise ValueError("a hostname may not hold control characters (newlines, escapes) or only spaces")
        return value


@router.post("/api/v1/enroll", status_code=201, response_model=Enrolled)
async def enroll(body: EnrollRequest, request: Request) -> dict[str, Any]:
    state = state_of(request)
    throttle_key = (client_ip(request) or "?", "enroll")
    # Only refusals count (a fleet behind one NAT address enrolls in parallel); an address past the
    # limit is answered 429 before any lookup or audit row.
    state.enroll_throttle.check(throttle_key)
    # Refuse a malformed key before spending a use; store its one canonical spelling (base64url
    # decoding forgives padding and stray characters, so the same key could be sent many ways).
    public_key = keys.public_b64(keys.public_from_b64(body.public_key))
    facts = {
        without_control(k, 64): (without_control(v, 256) if isinstance(v, str) else v)
        for k, v in body.facts.items()
    }
    try:
        async with state.db.transaction() as session:
            agent = await redeem(session, body.secret, NewAgent(body.hostname, public_key, facts))
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
        state.enroll_throttle.fail(throttle_key)
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
