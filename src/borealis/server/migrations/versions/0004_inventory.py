"""Inventory: the latest snapshot per agent and section, the history of changes, and a denormalised
row per searchable item (software, updates, disks; one per process name).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from borealis.server.db.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _agent_id() -> sa.Column[str]:
    return sa.Column(
        "agent_id", sa.String(32), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "inventory_sections",
        _agent_id(),
        sa.Column("section", sa.String(16), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("collected_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "section", name="pk_inventory_sections"),
    )
    op.create_table(
        "inventory_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _agent_id(),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("section", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("before", sa.String(255), nullable=True),
        sa.Column("after", sa.String(255), nullable=True),
    )
    op.create_index("ix_inventory_changes_agent", "inventory_changes", ["agent_id", "id"])
    op.create_index("ix_inventory_changes_at", "inventory_changes", ["at"])
    op.create_table(
        "inventory_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _agent_id(),
        sa.Column("section", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("arch", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("flag", sa.Boolean(), nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_inventory_items_section_name", "inventory_items", ["section", "name"])
    op.create_index("ix_inventory_items_agent_section", "inventory_items", ["agent_id", "section"])


def downgrade() -> None:
    for table in ("inventory_items", "inventory_changes", "inventory_sections"):
        op.drop_table(table)
