"""Workflow rows: documents and versions, webhook secrets, runs and node records (queries only)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import utcnow
from borealis.core.errors import Conflict, NotFound
from borealis.core.ids import new_id
from borealis.engine.states import FINAL_RUN_STATES, RunState
from borealis.server.workflows.models import (
    Workflow,
    WorkflowHook,
    WorkflowNodeRun,
    WorkflowRun,
    WorkflowVersion,
)


def hook_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


async def get_workflow(session: AsyncSession, workflow_id: str) -> Workflow:
    workflow = await session.get(Workflow, workflow_id[:64])
    if workflow is None:
        raise NotFound(f"no workflow {workflow_id!r}")
    return workflow


async def create_workflow(
    session: AsyncSession, name: str, description: str, document: dict[str, Any], actor: str
) -> Workflow:
    now = utcnow()
    workflow = Workflow(
        id=new_id(),
        name=name,
        description=description,
        document=document,
        version=1,
        enabled=True,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    session.add(workflow)
    await session.flush()
    session.add(
        WorkflowVersion(
            workflow_id=workflow.id, version=1, document=document, created_by=actor, created_at=now
        )
    )
    return workflow


async def save_version(
    session: AsyncSession, workflow: Workflow, from_version: int, actor: str, **changes: Any
) -> Workflow:
    """A new version, unless `from_version` is not the newest: then a 409, nothing merged."""
    if from_version != workflow.version:
        raise Conflict(
            f"the workflow is at version {workflow.version}; this change was made from version {from_version}",
            field="version",
        )
    now = utcnow()
    for name, value in changes.items():
        if value is not None:
            setattr(workflow, name, value)
    workflow.version += 1
    workflow.updated_by, workflow.updated_at = actor, now
    session.add(
        WorkflowVersion(
            workflow_id=workflow.id,
            version=workflow.version,
            document=workflow.document,
            created_by=actor,
            created_at=now,
        )
    )
    return workflow


async def list_workflows(session: AsyncSession, limit: int, cursor: str | None) -> list[Workflow]:
    query = select(Workflow).order_by(Workflow.id).limit(limit)
    if cursor:
        query = query.where(Workflow.id > cursor)
    return list(await session.scalars(query))


async def versions(session: AsyncSession, workflow_id: str) -> list[WorkflowVersion]:
    rows = await session.scalars(
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow_id)
        .order_by(WorkflowVersion.version.desc())
    )
    return list(rows)


async def get_version(session: AsyncSession, workflow_id: str, version: int) -> WorkflowVersion:
    row = await session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"workflow {workflow_id!r} has no version {version}")
    return row


async def sync_hooks(session: AsyncSession, workflow_id: str, webhook_nodes: set[str]) -> dict[str, str]:
    """Secrets for webhook nodes that have none (returned once, in clear); drop those of removed nodes."""
    rows = list(await session.scalars(select(WorkflowHook).where(WorkflowHook.workflow_id == workflow_id)))
    have = {row.node_id for row in rows}
    for row in rows:
        if row.node_id not in webhook_nodes:
            await session.delete(row)
    made: dict[str, str] = {}
    for node_id in sorted(webhook_nodes - have):
        made[node_id] = await _add_hook(session, workflow_id, node_id)
    return made


async def rotate_hook(session: AsyncSession, workflow_id: str, node_id: str) -> str:
    await session.execute(
        delete(WorkflowHook).where(WorkflowHook.workflow_id == workflow_id, WorkflowHook.node_id == node_id)
    )
    return await _add_hook(session, workflow_id, node_id)


async def _add_hook(session: AsyncSession, workflow_id: str, node_id: str) -> str:
    secret = secrets.token_urlsafe(32)
    session.add(
        WorkflowHook(
            secret_hash=hook_hash(secret), workflow_id=workflow_id, node_id=node_id, created_at=utcnow()
        )
    )
    await session.flush()
    return secret


async def hook_target(session: AsyncSession, secret: str) -> WorkflowHook | None:
    if not secret or len(secret) > 128:
        return None
    return await session.get(WorkflowHook, hook_hash(secret))


# --- runs ---


async def add_run(
    session: AsyncSession,
    workflow: Workflow,
    trigger: dict[str, Any],
    items: list[dict[str, Any]],
    actor: str,
) -> WorkflowRun:
    run = WorkflowRun(
        id=new_id(),
        workflow_id=workflow.id,
        workflow_version=workflow.version,
        status=RunState.QUEUED,
        trigger=trigger,
        input=items,
        output=None,
        error=None,
        owner=None,
        created_by=actor,
        created_at=utcnow(),
        started_at=None,
        finished_at=None,
    )
    session.add(run)
    return run


async def get_run(session: AsyncSession, run_id: str) -> WorkflowRun:
    run = await session.get(WorkflowRun, run_id[:64])
    if run is None:
        raise NotFound(f"no run {run_id!r}")
    return run


async def queued(session: AsyncSession, limit: int) -> list[WorkflowRun]:
    rows = await session.scalars(
        select(WorkflowRun)
        .where(WorkflowRun.status == RunState.QUEUED)
        .order_by(WorkflowRun.created_at)
        .limit(limit)
    )
    return list(rows)


async def running_counts(session: AsyncSession, workflow_ids: set[str]) -> dict[str, int]:
    rows = await session.execute(
        select(WorkflowRun.workflow_id, func.count())
        .where(WorkflowRun.workflow_id.in_(workflow_ids), WorkflowRun.status == RunState.RUNNING)
        .group_by(WorkflowRun.workflow_id)
    )
    return {workflow_id: int(count) for workflow_id, count in rows}


async def concurrency_limits(session: AsyncSession, workflow_ids: set[str]) -> dict[str, int]:
    """Each existing workflow's `settings.concurrency` (default 10)."""
    rows = await session.execute(select(Workflow.id, Workflow.document).where(Workflow.id.in_(workflow_ids)))
    return {
        workflow_id: int(((document or {}).get("settings") or {}).get("concurrency", 10))
        for workflow_id, document in rows
    }


async def claim(session: AsyncSession, run_id: str, owner: str) -> bool:
    """queued → running for this process; False when another process (or a cancel) got there first."""
    result = await session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.id == run_id, WorkflowRun.status == RunState.QUEUED)
        .values(status=RunState.RUNNING, owner=owner, started_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(
    session: AsyncSession,
    run_id: str,
    status: RunState,
    output: Any,
    error: str | None,
    only_from: tuple[RunState, ...],
) -> bool:
    result = await session.execute(
        update(WorkflowRun)
        .where(WorkflowRun.id == run_id, WorkflowRun.status.in_(only_from))
        .values(status=status, output=output, error=error, finished_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def interrupt_owned(session: AsyncSession, owner: str) -> list[str]:
    """Runs this process (same host and port) was running when it died: `interrupted`."""
    ids = list(
        await session.scalars(
            select(WorkflowRun.id).where(WorkflowRun.status == RunState.RUNNING, WorkflowRun.owner == owner)
        )
    )
    if ids:
        await session.execute(
            update(WorkflowRun)
            .where(WorkflowRun.id.in_(ids), WorkflowRun.status == RunState.RUNNING)
            .values(
                status=RunState.INTERRUPTED,
                error="the server stopped while the run was in flight",
                finished_at=utcnow(),
            )
        )
    return ids


async def node_records(session: AsyncSession, run_id: str) -> list[WorkflowNodeRun]:
    rows = await session.scalars(
        select(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run_id).order_by(WorkflowNodeRun.id)
    )
    return list(rows)


async def list_runs(
    session: AsyncSession,
    limit: int,
    cursor: str | None,
    workflow_id: str | None,
    status: str | None,
    since: datetime | None,
) -> list[WorkflowRun]:
    query = select(WorkflowRun).order_by(WorkflowRun.id.desc()).limit(limit)
    if cursor:
        query = query.where(WorkflowRun.id < cursor)
    if workflow_id:
        query = query.where(WorkflowRun.workflow_id == workflow_id)
    if status:
        query = query.where(WorkflowRun.status == status)
    if since is not None:
        query = query.where(WorkflowRun.created_at >= since)
    return list(await session.scalars(query))


async def prune_runs(session: AsyncSession, before: datetime, keep_per_workflow: int) -> int:
    """Final runs older than `before`, and beyond the newest `keep_per_workflow` of each workflow."""
    final = WorkflowRun.status.in_(FINAL_RUN_STATES)
    old = await session.execute(delete(WorkflowRun).where(final, WorkflowRun.created_at < before))
    removed = int(old.rowcount or 0)  # type: ignore[attr-defined]
    crowded = await session.execute(
        select(WorkflowRun.workflow_id)
        .group_by(WorkflowRun.workflow_id)
        .having(func.count() > keep_per_workflow)
    )
    for (workflow_id,) in crowded:
        keep = (
            select(WorkflowRun.id)
            .where(WorkflowRun.workflow_id == workflow_id)
            .order_by(WorkflowRun.id.desc())
            .limit(keep_per_workflow)
        )
        extra = await session.execute(
            delete(WorkflowRun).where(
                WorkflowRun.workflow_id == workflow_id, final, WorkflowRun.id.not_in(keep.scalar_subquery())
            )
        )
        removed += int(extra.rowcount or 0)  # type: ignore[attr-defined]
    return removed
