"""The script library: list, create, read (latest or `?version=`), versions, update (a new version;
naming a stale `version` is a 409), delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from borealis.core.clock import iso
from borealis.core.errors import InvalidInput
from borealis.server import audit
from borealis.server.api.common import Limit, ScriptsRead, ScriptsWrite, client_ip
from borealis.server.api.schemas.jobs import ScriptPage, ScriptVersionPage, ScriptVersionView, ScriptView
from borealis.server.auth.authority import require_run
from borealis.server.jobs import library
from borealis.server.jobs.spec import check_body_size, check_language
from borealis.server.state import state_of

router = APIRouter(prefix="/api/v1/scripts", tags=["scripts"])


class NewScript(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    language: str = Field(max_length=16)
    body: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict, max_length=64)
    description: str = Field(default="", max_length=1024)


class ScriptChange(BaseModel):
    version: int = Field(ge=1, description="the version this change was made from")
    name: str | None = Field(default=None, min_length=1, max_length=128)
    language: str | None = Field(default=None, max_length=16)
    body: str | None = Field(default=None, min_length=1)
    parameters: dict[str, Any] | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=1024)


def _content(language: str, body: str, parameters: dict[str, Any], max_bytes: int) -> library.ScriptContent:
    language = check_language(language)
    if not body.strip():
        raise InvalidInput("body must not be empty", field="body")
    check_body_size(body, max_bytes, "body")
    return library.ScriptContent(language, body, parameters)


@router.get("", response_model=ScriptPage)
async def list_scripts(
    request: Request,
    who: ScriptsRead,
    limit: Limit = 100,
    cursor: str | None = Query(default=None, max_length=128),
) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        scripts = await library.list_scripts(session, limit, cursor)
    items = [library.script_view(script, with_body=False) for script in scripts]
    return {"items": items, "next_cursor": scripts[-1].name if len(scripts) == limit else None}


@router.post("", status_code=201, response_model=ScriptView)
async def create_script(body: NewScript, request: Request, who: ScriptsWrite) -> dict[str, Any]:
    state = state_of(request)
    content = _content(body.language, body.body, body.parameters, state.settings.max_script_bytes)
    async with state.db.transaction() as session:
        script = await library.create_script(session, body.name, body.description, content, who.actor)
        audit.record(
            session, who.actor, "script.create", script.id, client_ip(request), name=script.name, version=1
        )
    return library.script_view(script)


@router.get("/{script_id}", response_model=ScriptVersionView)
async def one_script(
    script_id: str,
    request: Request,
    who: ScriptsRead,
    version: int | None = Query(default=None, ge=1, le=2**31 - 1),
) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        script, row = await library.get_version(session, script_id, version)
    return library.version_view(script, row)


@router.get("/{script_id}/versions", response_model=ScriptVersionPage)
async def script_versions(script_id: str, request: Request, who: ScriptsRead) -> dict[str, Any]:
    async with state_of(request).db.session() as session:
        rows = await library.list_versions(session, script_id)
    items = [
        {
            "version": row.version,
            "language": row.language,
            "created_by": row.created_by,
            "created_at": iso(row.created_at),
        }
        for row in rows
    ]
    return {"items": items, "next_cursor": None}


@router.put("/{script_id}", response_model=ScriptView)
async def update_script(
    script_id: str, body: ScriptChange, request: Request, who: ScriptsWrite
) -> dict[str, Any]:
    """A new version. When schedules or workflows follow the script's newest version, a change of its body makes
    agents run the new body: that needs the right to run jobs, and the audit row names them."""
    state = state_of(request)
    async with state.db.transaction() as session:
        current = await library.get_script(session, script_id)
        before = library.body_sha256(current.body)
        content = None
        if body.language is not None or body.body is not None or body.parameters is not None:
            content = _content(
                body.language if body.language is not None else current.language,
                body.body if body.body is not None else current.body,
                body.parameters if body.parameters is not None else current.parameters,
                state.settings.max_script_bytes,
            )
        followed_by = await library.followers(session, script_id)
        if (
            followed_by
            and content is not None
            and (content.body != current.body or content.language != current.language)
        ):
            require_run(who, f"this script is followed by {', '.join(followed_by[:5])}; changing it")
        script = await library.update_script(
            session, script_id, body.version, who.actor, body.name, body.description, content
        )
        audit.record(
            session,
            who.actor,
            "script.update",
            script.id,
            client_ip(request),
            name=script.name,
            version=script.version,
            sha256_before=before,
            sha256=library.body_sha256(script.body),
            followed_by=followed_by,
        )
    return library.script_view(script)


@router.delete("/{script_id}", status_code=204)
async def delete_script(script_id: str, request: Request, who: ScriptsWrite) -> None:
    async with state_of(request).db.transaction() as session:
        script = await library.get_script(session, script_id)
        await session.delete(script)
        audit.record(session, who.actor, "script.delete", script.id, client_ip(request), name=script.name)
