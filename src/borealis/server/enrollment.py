"""Install codes (limited uses, expiry, tags, optional approval) and the enrollment of a new agent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import iso, utcnow
from borealis.core.errors import EnrollmentRefused, InvalidInput, NotFound
from borealis.core.ids import new_id
from borealis.protocol.install_code import InstallCode
from borealis.server.auth.secrets import digest, new_secret
from borealis.server.db.models import Agent, Enrollment
from borealis.server.tags import clean_tags

MAX_USES = 100_000
MAX_LIFETIME = timedelta(days=365)
SERVER_URL = re.compile(r"https?://[^\s/?#@]+(/[^\s?#]*)?")


@dataclass(frozen=True)
class NewAgent:
    hostname: str
    public_key: str
    facts: dict[str, Any]


async def create_enrollment(
    session: AsyncSession,
    created_by: str,
    uses: int,
    expires_in: timedelta,
    tags: list[str],
    approval_required: bool,
    note: str = "",
) -> tuple[Enrollment, str]:
    """Returns the row and the enrollment secret (shown once, inside an install code)."""
    if not 1 <= uses <= MAX_USES:
        raise InvalidInput(f"uses must be between 1 and {MAX_USES}", field="uses")
    if not timedelta(0) < expires_in <= MAX_LIFETIME:
        raise InvalidInput("expiry must be positive and at most 365 days", field="expires_in_s")
    if len(note) > 256:
        raise InvalidInput("note: at most 256 characters", field="note")
    secret = new_secret()
    now = utcnow()
    row = Enrollment(
        id=new_id(),
        secret_hash=digest(secret),
        uses_allowed=uses,
        uses_count=0,
        tags=clean_tags(tags),
        approval_required=approval_required,
        note=note,
        created_by=created_by,
        created_at=now,
        expires_at=now + expires_in,
    )
    session.add(row)
    await session.flush()
    return row, secret


def agent_url(server_url: str) -> str:
    """The server URL an install code carries; checked before a code is made, so no row is left behind."""
    url = server_url.strip().rstrip("/")
    if not SERVER_URL.fullmatch(url):
        raise InvalidInput(
            f"server URL must be http(s)://host[:port][/path], not {server_url!r}", field="server_url"
        )
    return url


def install_code(server_url: str, fingerprint: str, secret: str, tls_fingerprint: str | None = None) -> str:
    """The code; `tls_fingerprint` (the self-signed certificate's) only goes into https:// codes."""
    pin = tls_fingerprint if server_url.startswith("https://") else None
    return InstallCode(server_url, fingerprint, secret, tls_fingerprint=pin).encode()


async def redeem(session: AsyncSession, secret: str, agent: NewAgent) -> Agent:
    """Spend one use of the code and create the agent, atomically; refusals leave nothing behind.
    `agent.public_key` must be in canonical form (`keys.public_b64`), so one key has one spelling."""
    row = (await session.scalars(select(Enrollment).where(Enrollment.secret_hash == digest(secret)))).first()
    if row is None:
        raise EnrollmentRefused("install code is not valid")
    if row.revoked_at is not None:
        raise EnrollmentRefused("install code has been revoked")
    now = utcnow()
    if row.expires_at <= now:
        raise EnrollmentRefused("install code has expired")
    # After the code is known good, so the answer tells nothing to someone without a valid code.
    # A revoked agent's key counts too: a key that was taken away is not welcome back.
    if (await session.scalars(select(Agent.id).where(Agent.public_key == agent.public_key))).first():
        raise EnrollmentRefused("this public key is already enrolled; an agent needs a key pair of its own")
    # Conditional increment: two agents racing for the last use cannot both win.
    spent = await session.execute(
        update(Enrollment)
        .where(Enrollment.id == row.id, Enrollment.uses_count < Enrollment.uses_allowed)
        .values(uses_count=Enrollment.uses_count + 1)
    )
    if getattr(spent, "rowcount", 0) != 1:
        raise EnrollmentRefused("install code has been used up")
    created = Agent(
        id=new_id(),
        hostname=agent.hostname,
        public_key=agent.public_key,
        state="pending" if row.approval_required else "active",
        os=str(agent.facts.get("os", ""))[:64],
        os_version=str(agent.facts.get("os_version", ""))[:128],
        arch=str(agent.facts.get("arch", ""))[:32],
        version=str(agent.facts.get("version", ""))[:32],
        tags=list(row.tags),
        facts=agent.facts,
        notes="",
        enrollment_id=row.id,
        enrolled_at=now,
    )
    session.add(created)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same key enrolling twice at once: the unique index decides
        raise EnrollmentRefused(
            "this public key is already enrolled; an agent needs a key pair of its own"
        ) from exc
    return created


async def get_enrollment(session: AsyncSession, enrollment_id: str) -> Enrollment:
    row = await session.get(Enrollment, enrollment_id)
    if row is None:
        raise NotFound(f"no enrollment {enrollment_id!r}")
    return row


def enrollment_view(row: Enrollment) -> dict[str, Any]:
    now = utcnow()
    if row.revoked_at is not None:
        state = "revoked"
    elif row.expires_at <= now:
        state = "expired"
    elif row.uses_count >= row.uses_allowed:
        state = "used_up"
    else:
        state = "active"
    return {
        "id": row.id,
        "state": state,
        "uses_allowed": row.uses_allowed,
        "uses_count": row.uses_count,
        "tags": row.tags,
        "approval_required": row.approval_required,
        "note": row.note,
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
    }
