"""Agent self-update: the versions the server holds, their rollouts and each agent's progress.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from borealis.server.db.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_versions",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("uploaded_by", sa.String(160), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "agent_rollouts",
        sa.Column(
            "version",
            sa.String(64),
            sa.ForeignKey("agent_versions.version", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "agent_updates",
        sa.Column(
            "version",
            sa.String(64),
            sa.ForeignKey("agent_rollouts.version", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("agent_id", sa.String(32), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("from_version", sa.String(64), nullable=False),
        sa.Column("offered_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", "agent_id", name="pk_agent_updates"),
    )
    op.create_index("ix_agent_updates_state", "agent_updates", ["state"])


def downgrade() -> None:
    for table in ("agent_updates", "agent_rollouts", "agent_versions"):
        op.drop_table(table)
