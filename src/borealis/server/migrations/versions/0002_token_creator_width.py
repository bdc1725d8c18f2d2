"""Token creator as wide as any actor: `token:<name>` is up to 134 characters, the column held 128.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column(
            "created_by", existing_type=sa.String(128), type_=sa.String(160), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column(
            "created_by", existing_type=sa.String(160), type_=sa.String(128), existing_nullable=False
        )
