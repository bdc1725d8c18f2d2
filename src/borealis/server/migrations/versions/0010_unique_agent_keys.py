"""One public key, one agent: a unique index on agents.public_key among agents that are not revoked.

Agents that already share a key (an identity cloned, or enrolled twice) keep the first enrolled one;
the later ones are revoked by this migration, so the index can be built. Keys are stored as sent; new
enrollments store the canonical base64url form.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from borealis.server.db.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    agents = sa.table(
        "agents",
        sa.column("id", sa.String),
        sa.column("public_key", sa.String),
        sa.column("state", sa.String),
        sa.column("enrolled_at", UTCDateTime()),
        sa.column("revoked_at", UTCDateTime()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(agents.c.id, agents.c.public_key)
        .where(agents.c.state != "revoked")
        .order_by(agents.c.enrolled_at, agents.c.id)
    ).all()
    seen: set[str] = set()
    later: list[str] = []
    for agent_id, public_key in rows:
        if public_key in seen:
            later.append(agent_id)
        seen.add(public_key)
    if later:
        bind.execute(
            sa.update(agents)
            .where(agents.c.id.in_(later))
            .values(state="revoked", revoked_at=datetime.now(UTC))
        )
    op.create_index(
        "ux_agents_public_key",
        "agents",
        ["public_key"],
        unique=True,
        sqlite_where=sa.text("state != 'revoked'"),
        postgresql_where=sa.text("state != 'revoked'"),
    )


def downgrade() -> None:
    op.drop_index("ux_agents_public_key", table_name="agents")
