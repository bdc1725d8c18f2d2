"""Authority over what runs: owners and actors by id, audit rows with the actor's display name,
workflows with an owner, schedules' library scripts pinned to a version and its content hash.

Existing rows are backfilled safely: `user:<username>` becomes `user:<user id>` and `cli:admin-cli`
becomes `cli:cli`; a token recorded by its name (names are not unique) cannot be resolved and becomes
`unresolved:token:<name>`, so a schedule or workflow owned that way stops reaching agents until
someone with the right saves it again, and no operator owns such a token but an admin. A schedule
that named a library script without a version is pinned to the version it would have run now.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UNRESOLVED = "unresolved:"


def _by_id(value: str | None, users: dict[str, str]) -> str:
    """An actor recorded by name, as its id where that is certain; else marked unresolved."""
    text = value or ""
    kind, _, name = text.partition(":")
    if kind == "user" and name in users:
        return f"user:{users[name]}"
    if text == "cli:admin-cli":
        return "cli:cli"
    if kind in ("user", "token"):
        return f"{UNRESOLVED}{text}"[:160]
    return text


def _name_of(value: str | None) -> str:
    return (value or "").partition(":")[2][:128]


def _pin(action: dict[str, Any], scripts: dict[str, tuple[int, str]]) -> dict[str, Any] | None:
    job = action.get("job") if isinstance(action, dict) and action.get("type") == "job" else None
    params = job.get("params") if isinstance(job, dict) else None
    if not isinstance(params, dict) or "script_id" not in params or "script_version" in params:
        return None
    found = scripts.get(str(params["script_id"]))
    if found is None:
        return None
    version, body = found
    pinned = {**params, "script_version": version, "script_sha256": hashlib.sha256(body.encode()).hexdigest()}
    return {**action, "job": {**job, "params": pinned}}


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("actor_name", sa.String(128), nullable=True))
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("owner_name", sa.String(128), nullable=False, server_default=""))
    with op.batch_alter_table("workflows") as batch:
        batch.add_column(sa.Column("owner", sa.String(160), nullable=False, server_default=""))
        batch.add_column(sa.Column("owner_name", sa.String(128), nullable=False, server_default=""))

    bind = op.get_bind()
    users = dict(bind.execute(sa.text("SELECT username, id FROM users")).all())
    tokens = sa.table("api_tokens", sa.column("id", sa.String), sa.column("created_by", sa.String))
    for ident, created_by in bind.execute(sa.select(tokens.c.id, tokens.c.created_by)).all():
        bind.execute(tokens.update().where(tokens.c.id == ident).values(created_by=_by_id(created_by, users)))

    workflows = sa.table(
        "workflows",
        sa.column("id", sa.String),
        sa.column("updated_by", sa.String),
        sa.column("owner", sa.String),
        sa.column("owner_name", sa.String),
    )
    for ident, updated_by in bind.execute(sa.select(workflows.c.id, workflows.c.updated_by)).all():
        bind.execute(
            workflows.update()
            .where(workflows.c.id == ident)
            .values(owner=_by_id(updated_by, users), owner_name=_name_of(updated_by))
        )

    scripts = {
        ident: (version, body)
        for ident, version, body in bind.execute(sa.text("SELECT id, version, body FROM scripts")).all()
    }
    schedules = sa.table(
        "schedules",
        sa.column("id", sa.String),
        sa.column("owner", sa.String),
        sa.column("owner_name", sa.String),
        sa.column("action", sa.JSON),
    )
    for ident, owner, action in bind.execute(
        sa.select(schedules.c.id, schedules.c.owner, schedules.c.action)
    ).all():
        values: dict[str, Any] = {"owner": _by_id(owner, users), "owner_name": _name_of(owner)}
        pinned = _pin(action, scripts)
        if pinned is not None:
            values["action"] = pinned
        bind.execute(schedules.update().where(schedules.c.id == ident).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("workflows") as batch:
        batch.drop_column("owner_name")
        batch.drop_column("owner")
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("owner_name")
    op.drop_column("audit_log", "actor_name")
