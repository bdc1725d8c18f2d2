"""The script library: a script has a unique name and numbered versions; every change adds a version.

A change names the version it was made from; if the script moved on meanwhile, it is refused (409),
never merged silently. Old versions stay readable; deleting a script deletes its versions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from borealis.core.clock import iso, utcnow
from borealis.core.errors import Conflict, NotFound
from borealis.core.ids import new_id
from borealis.server.db.models import Schedule, Script, ScriptVersion
from borealis.server.workflows.models import Workflow

LATEST = "latest"  # a job's `script_version` that follows the newest version instead of a pinned one


@dataclass(frozen=True)
class ScriptContent:
    language: str
    body: str
    parameters: dict[str, Any]


def body_sha256(body: str) -> str:
    """The content hash that pins a script's body."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


async def followers(session: AsyncSession, script_id: str) -> list[str]:
    """What follows this script's newest version (`script_version: "latest"`): schedules (by id) and
    workflows (`workflow:<id>`, by their current document). An edit of the script changes what they run."""
    found = []
    for schedule_id, action in await session.execute(select(Schedule.id, Schedule.action)):
        job = action.get("job") if isinstance(action, dict) else None
        if isinstance(job, dict) and _follows(job.get("params"), script_id):
            found.append(str(schedule_id))
    for workflow_id, document in await session.execute(select(Workflow.id, Workflow.document)):
        nodes = document.get("nodes") if isinstance(document, dict) else None
        if any(isinstance(node, dict) and _follows(node.get("params"), script_id) for node in nodes or []):
            found.append(f"workflow:{workflow_id}")
    return found


def _follows(params: object, script_id: str) -> bool:
    return (
        isinstance(params, dict)
        and params.get("script_id") == script_id
        and params.get("script_version") == LATEST
    )


def script_view(script: Script, with_body: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": script.id,
        "name": script.name,
        "description": script.description,
        "language": script.language,
        "parameters": script.parameters,
        "version": script.version,
        "created_by": script.created_by,
        "created_at": iso(script.created_at),
        "updated_by": script.updated_by,
        "updated_at": iso(script.updated_at),
    }
    if with_body:
        view["body"] = script.body
        view["sha256"] = body_sha256(script.body)
    return view


def version_view(script: Script, version: ScriptVersion) -> dict[str, Any]:
    return {
        "id": script.id,
        "name": script.name,
        "description": script.description,
        "language": version.language,
        "parameters": version.parameters,
        "body": version.body,
        "sha256": body_sha256(version.body),
        "version": version.version,
        "latest_version": script.version,
        "created_by": version.created_by,
        "created_at": iso(version.created_at),
    }


async def get_script(session: AsyncSession, script_id: str) -> Script:
    script = await session.get(Script, script_id)
    if script is None:
        raise NotFound(f"no script {script_id!r}")
    return script


async def get_version(
    session: AsyncSession, script_id: str, version: int | None
) -> tuple[Script, ScriptVersion]:
    script = await get_script(session, script_id)
    wanted = script.version if version is None else version
    row = await session.scalar(
        select(ScriptVersion).where(ScriptVersion.script_id == script_id, ScriptVersion.version == wanted)
    )
    if row is None:
        raise NotFound(f"script {script_id!r} has no version {wanted}")
    return script, row


async def list_scripts(session: AsyncSession, limit: int, cursor: str | None) -> list[Script]:
    query = select(Script).order_by(Script.name).limit(limit)
    if cursor:
        query = query.where(Script.name > cursor)
    return list((await session.scalars(query)).all())


async def list_versions(session: AsyncSession, script_id: str) -> list[ScriptVersion]:
    await get_script(session, script_id)
    query = select(ScriptVersion).where(ScriptVersion.script_id == script_id).order_by(ScriptVersion.version)
    return list((await session.scalars(query)).all())


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a script named {name!r} exists already") from exc


async def create_script(
    session: AsyncSession, name: str, description: str, content: ScriptContent, actor: str
) -> Script:
    if await session.scalar(select(Script.id).where(Script.name == name)) is not None:
        raise Conflict(f"a script named {name!r} exists already")
    now = utcnow()
    script = Script(
        id=new_id(),
        name=name,
        description=description,
        language=content.language,
        body=content.body,
        parameters=content.parameters,
        version=1,
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    session.add(script)
    await _flush_unique(session, name)
    session.add(_version_row(script, actor))
    await session.flush()
    return script


async def update_script(
    session: AsyncSession,
    script_id: str,
    based_on: int,
    actor: str,
    name: str | None = None,
    description: str | None = None,
    content: ScriptContent | None = None,
) -> Script:
    script = await get_script(session, script_id)
    if based_on != script.version:
        raise Conflict(
            f"script {script.name!r} is at version {script.version}, not {based_on}; load it again",
            latest_version=script.version,
        )
    if name is not None and name != script.name:
        if await session.scalar(select(Script.id).where(Script.name == name)) is not None:
            raise Conflict(f"a script named {name!r} exists already")
        script.name = name
    if description is not None:
        script.description = description
    if content is not None:
        script.language, script.body, script.parameters = content.language, content.body, content.parameters
    script.version += 1
    script.updated_by, script.updated_at = actor, utcnow()
    await _flush_unique(session, script.name)
    session.add(_version_row(script, actor))
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent update took this version number first
        raise Conflict(f"script {script.name!r} changed meanwhile; load it again") from exc
    return script


def _version_row(script: Script, actor: str) -> ScriptVersion:
    return ScriptVersion(
        script_id=script.id,
        version=script.version,
        language=script.language,
        body=script.body,
        parameters=script.parameters,
        created_by=actor,
        created_at=script.updated_at,
    )
