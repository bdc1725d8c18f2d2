"""The tables. Every change here needs a migration in `server/migrations/versions`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]]
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class LoginSession(Base):
    __tablename__ = "login_sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    csrf_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(160))
    actor_name: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(160))
    detail: Mapped[dict[str, Any]]
    ip: Mapped[str | None] = mapped_column(String(64))


class Enrollment(Base):
    __tablename__ = "enrollments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    uses_allowed: Mapped[int] = mapped_column(Integer)
    uses_count: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[list[str]]
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(256), default="")
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    public_key: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    os: Mapped[str] = mapped_column(String(64), default="")
    os_version: Mapped[str] = mapped_column(String(128), default="")
    arch: Mapped[str] = mapped_column(String(32), default="")
    version: Mapped[str] = mapped_column(String(32), default="")
    tags: Mapped[list[str]]
    facts: Mapped[dict[str, Any]]
    notes: Mapped[str] = mapped_column(Text, default="")
    enrollment_id: Mapped[str | None] = mapped_column(String(32))
    enrolled_at: Mapped[datetime]
    last_seen: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_agents_state", "state"),
        # One key, one identity: no two agents that are not revoked share a public key (the
        # enrollment code also refuses a revoked agent's key; this closes the race between two).
        Index(
            "ux_agents_public_key",
            "public_key",
            unique=True,
            sqlite_where=text("state != 'revoked'"),
            postgresql_where=text("state != 'revoked'"),
        ),
    )


class Job(Base):
    """A job as submitted: what to run, on which target (resolved once into `job_results` rows)."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    run_as: Mapped[str] = mapped_column(String(16))
    target: Mapped[dict[str, Any]]
    timeout_s: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    agent_count: Mapped[int] = mapped_column(Integer, default=0)
    batch_size: Mapped[int] = mapped_column(Integer, default=0)  # 0: one batch of every agent
    current_batch: Mapped[int] = mapped_column(Integer, default=0)
    stop_on_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled_at: Mapped[datetime | None]
    script_id: Mapped[str | None] = mapped_column(String(32))
    script_version: Mapped[int | None] = mapped_column(Integer)
    cosign: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # operator co-signature, forwarded


class JobResult(Base):
    """One row per (job, agent): its state and, once final, what happened there."""

    __tablename__ = "job_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(String(32))
    batch: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    stdout: Mapped[str] = mapped_column(Text, default="")
    stderr: Mapped[str] = mapped_column(Text, default="")
    flags: Mapped[list[str]]
    error: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sent_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("job_id", "agent_id", name="uq_job_results_job_agent"),
        Index("ix_job_results_agent_status", "agent_id", "status"),
        Index("ix_job_results_status", "status"),
    )


class Script(Base):
    """A library script: its latest version here, every version (this one too) in `script_versions`."""

    __tablename__ = "scripts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    language: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]]
    description: Mapped[str] = mapped_column(String(1024), default="")
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(160))
    updated_at: Mapped[datetime]


class ScriptVersion(Base):
    __tablename__ = "script_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    script_id: Mapped[str] = mapped_column(ForeignKey("scripts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("script_id", "version", name="uq_script_versions_version"),)


class InventorySection(Base):
    """The latest snapshot of one inventory section of one agent (DESIGN §10)."""

    __tablename__ = "inventory_sections"
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    section: Mapped[str] = mapped_column(String(16), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[str | None] = mapped_column(Text)  # JSON text, written and read with orjson (fast)
    error: Mapped[str | None] = mapped_column(Text)
    collected_at: Mapped[datetime]
    received_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class InventoryChange(Base):
    """One change between two snapshots: a package added, an update gone, a disk filling…"""

    __tablename__ = "inventory_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    section: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    before: Mapped[str | None] = mapped_column(String(255))
    after: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        Index("ix_inventory_changes_agent", "agent_id", "id"),
        Index("ix_inventory_changes_at", "at"),
    )


class InventoryItem(Base):
    """A denormalised row per item of the sections the fleet is searched by (software, updates,
    disks; processes: one row per name), rewritten with its section; the snapshot stays the whole
    truth."""

    __tablename__ = "inventory_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(128), default="")
    arch: Mapped[str] = mapped_column(String(32), default="")
    source: Mapped[str] = mapped_column(String(16), default="")
    flag: Mapped[bool] = mapped_column(Boolean, default=False)
    number: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_inventory_items_section_name", "section", "name"),
        Index("ix_inventory_items_agent_section", "agent_id", "section"),
    )


class RoleModule(Base):
    """One uploaded version of a role module the server distributes to agents (issue 5)."""

    __tablename__ = "role_modules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    target: Mapped[dict[str, Any]]
    description: Mapped[str] = mapped_column(String(1024), default="")
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    withdraw_signature: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (UniqueConstraint("name", "version", name="uq_role_modules_version"),)


class AgentVersion(Base):
    """An agent wheel the server can offer (issue 5 part 3); the file is in `<home>/Server/blobs`."""

    __tablename__ = "agent_versions"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(128))
    uploaded_by: Mapped[str] = mapped_column(String(160))
    uploaded_at: Mapped[datetime]


class AgentRollout(Base):
    """The rollout of one version: its target as asked and how many agents may update at once."""

    __tablename__ = "agent_rollouts"
    version: Mapped[str] = mapped_column(
        ForeignKey("agent_versions.version", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[dict[str, Any]]
    batch_size: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AgentUpdate(Base):
    """One agent's progress in a rollout (`protocol.agent_updates.UpdateState`)."""

    __tablename__ = "agent_updates"
    version: Mapped[str] = mapped_column(
        ForeignKey("agent_rollouts.version", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    from_version: Mapped[str] = mapped_column(String(64), default="")
    offered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_agent_updates_state", "state"),)


class Schedule(Base):
    """A schedule (DESIGN §11): when it fires (`cron` in `timezone`, or every `interval_s`), what it
    runs (`action`: a job body or a workflow), and its next slot. `next_run_at` is None once it ended."""

    __tablename__ = "schedules"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    cron: Mapped[str | None] = mapped_column(String(128))
    interval_s: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    anchor_at: Mapped[datetime]
    end_at: Mapped[datetime | None]
    max_runs: Mapped[int | None] = mapped_column(Integer)
    misfire: Mapped[str] = mapped_column(String(16))
    grace_s: Mapped[float] = mapped_column(Float)
    overlap: Mapped[str] = mapped_column(String(16))
    action: Mapped[dict[str, Any]]
    enabled: Mapped[bool] = mapped_column(Boolean)
    next_run_at: Mapped[datetime | None]
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    ended_reason: Mapped[str | None] = mapped_column(String(128))
    last_ref: Mapped[str | None] = mapped_column(String(64))  # the job id or workflow run id last fired
    last_ref_kind: Mapped[str | None] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(160))  # the principal's id its runs are submitted as
    owner_name: Mapped[str] = mapped_column(String(128), default="")
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(160))
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_schedules_due", "enabled", "next_run_at"),)


class ScheduleRun(Base):
    """One slot of a schedule and what became of it: fired (with its job or workflow run), skipped
    (and why), failed, or for a moment firing/queued. A row may stand for `slots` consecutive slots."""

    __tablename__ = "schedule_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    slot_at: Mapped[datetime]
    slots: Mapped[int] = mapped_column(Integer, default=1)
    outcome: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    job_id: Mapped[str | None] = mapped_column(String(32))
    workflow_run_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(512))

    __table_args__ = (
        UniqueConstraint("schedule_id", "slot_at", name="uq_schedule_runs_slot"),
        Index("ix_schedule_runs_outcome", "outcome"),
        Index("ix_schedule_runs_recorded", "recorded_at"),
    )
