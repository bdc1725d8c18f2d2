"""Role modules an admin uploads, signed and sent to the agents that should have them (issue 5).

Each upload is a new version of a name, signed with the server key over `role_install_payload`;
withdrawing a name signs a `role_remove_payload` for its last version. Every server process keeps the
current set in memory (loaded at start, reloaded when the bus says `roles.changed`) and sends
`role.install` / `role.remove` frames to the agents it holds: all of them when the set changes, and
each agent once more when it connects (a process holding no role modules does no work on connect).
Agents answer `role.status`; the last answer per agent is kept here, in this process's memory.
"""

from __future__ import annotations

import ast
import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from borealis.core.clock import iso, utcnow
from borealis.core.errors import Conflict, InvalidInput, NotFound
from borealis.core.logs import kv
from borealis.protocol import keys
from borealis.protocol.frames import RoleInstallFrame, RoleRemoveFrame
from borealis.protocol.roles import (
    INSTALL,
    MAX_ROLE_BYTES,
    REMOVE,
    ROLE_NAME,
    body_sha256,
    role_install_payload,
    role_remove_payload,
)
from borealis.server import audit
from borealis.server.bus import Bus
from borealis.server.db.database import Database
from borealis.server.db.models import Agent, RoleModule
from borealis.server.jobs.roles import KnownRoles
from borealis.server.presence import Presence
from borealis.server.tags import clean_tags

SUBJECT = "roles.changed"
RESERVED = frozenset({"script", "health", "inventory", "updates", "screenshot"})
YIELD_EVERY = 200

log = logging.getLogger("borealis.server.roles")


@dataclass(frozen=True)
class Current:
    """What agents should hold for one name: an install frame, or (withdrawn) a remove frame."""

    name: str
    version: int
    target: dict[str, Any]
    frame: str
    withdrawn: bool


def check_module(name: str, body: str) -> None:
    """A name agents can hold and a body that is Python defining `create_role` (parsed, never run)."""
    if not ROLE_NAME.fullmatch(name):
        raise InvalidInput(
            "name must be lowercase letters, digits and _, starting with a letter", field="name"
        )
    if name in RESERVED:
        raise Conflict(f"{name!r} is a built-in role's name", field="name")
    if len(body.encode("utf-8")) > MAX_ROLE_BYTES:
        raise InvalidInput(f"body is larger than {MAX_ROLE_BYTES} bytes", field="body")
    try:
        tree = ast.parse(body, filename=f"role_{name}.py")
    except SyntaxError as exc:
        raise InvalidInput(f"body is not valid Python: line {exc.lineno}: {exc.msg}", field="body") from None
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    } | {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    if "create_role" not in defined:
        raise InvalidInput("body must define create_role() at module level (see docs/roles.md)", field="body")


def check_target(target: dict[str, Any]) -> dict[str, Any]:
    if target.get("all") is True and set(target) == {"all"}:
        return {"all": True}
    tags = target.get("tags")
    if set(target) == {"tags"} and isinstance(tags, list) and tags and all(isinstance(t, str) for t in tags):
        return {"tags": clean_tags(tags)}
    raise InvalidInput("target must be {all: true} or {tags: [...]}", field="target")


def _frame(row: RoleModule) -> str:
    message: RoleInstallFrame | RoleRemoveFrame
    if row.withdrawn_at is not None:
        if row.withdraw_signature is None:
            raise RuntimeError(
                f"role module {row.name} {row.version} is withdrawn but its removal is unsigned"
            )
        message = {"t": REMOVE, "name": row.name, "version": row.version, "signature": row.withdraw_signature}
    else:
        message = {
            "t": INSTALL,
            "name": row.name,
            "version": row.version,
            "body": row.body,
            "sha256": row.sha256,
            "signature": row.signature,
        }
    return orjson.dumps(message).decode()


def _wants(target: dict[str, Any], tags: set[str]) -> bool:
    return bool(target.get("all")) or set(target.get("tags") or ()) <= tags


class RoleModules:
    def __init__(self, db: Database, key: Ed25519PrivateKey, presence: Presence, bus: Bus, known: KnownRoles):
        self._db = db
        self._key = key
        self._presence = presence
        self._bus = bus
        self._known = known
        self._current: dict[str, Current] = {}
        self.reports: dict[str, dict[str, dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._reload()
        await self._bus.subscribe(SUBJECT, self._changed)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- what admins do ---

    async def upload(
        self, name: str, body: str, target: dict[str, Any], description: str, actor: str, ip: str | None
    ) -> RoleModule:
        check_module(name, body)
        target = check_target(target)
        sha256 = body_sha256(body)
        async with self._db.transaction() as session:
            last = await session.scalar(select(func.max(RoleModule.version)).where(RoleModule.name == name))
            version = (last or 0) + 1
            row = RoleModule(
                name=name,
                version=version,
                body=body,
                sha256=sha256,
                signature=keys.sign(self._key, role_install_payload(name, version, sha256)),
                target=target,
                description=description,
                created_by=actor,
                created_at=utcnow(),
                withdrawn_at=None,
                withdraw_signature=None,
            )
            session.add(row)
            audit.record(
                session, actor, "role.upload", name, ip, version=version, sha256=sha256, agents=target
            )
        await self._bus.publish(SUBJECT, {"name": name})
        return row

    async def withdraw(self, name: str, actor: str, ip: str | None) -> RoleModule:
        async with self._db.transaction() as session:
            row = await self._latest(session, name)
            if row is None or row.withdrawn_at is not None:
                raise NotFound(f"no role module named {name!r} is distributed")
            row.withdrawn_at = utcnow()
            row.withdraw_signature = keys.sign(self._key, role_remove_payload(name, row.version))
            audit.record(session, actor, "role.withdraw", name, ip, version=row.version)
        await self._bus.publish(SUBJECT, {"name": name})
        return row

    async def versions(self, name: str) -> list[RoleModule]:
        async with self._db.session() as session:
            rows = list(
                await session.scalars(
                    select(RoleModule).where(RoleModule.name == name).order_by(RoleModule.version.desc())
                )
            )
        if not rows:
            raise NotFound(f"no role module named {name!r}")
        return rows

    async def listing(self) -> list[RoleModule]:
        async with self._db.session() as session:
            newest = (
                select(RoleModule.name, func.max(RoleModule.version).label("version"))
                .group_by(RoleModule.name)
                .subquery()
            )
            rows = await session.scalars(
                select(RoleModule)
                .join(newest, (RoleModule.name == newest.c.name) & (RoleModule.version == newest.c.version))
                .order_by(RoleModule.name)
            )
            return list(rows)

    # --- agents ---

    def agent_connected(self, agent_id: str) -> None:
        if self._current:
            self._spawn(self._send_all([agent_id]))

    def on_status(self, agent_id: str, frame: dict[str, Any]) -> None:
        name = frame.get("name")
        if not isinstance(name, str) or name not in self._current:
            return
        error = frame.get("error")
        version = frame.get("version")
        self.reports.setdefault(name, {})[agent_id] = {
            "version": version if isinstance(version, int) and not isinstance(version, bool) else None,
            "ok": frame.get("ok") is True,
            "removed": frame.get("removed") is True,
            "error": error[:500] if isinstance(error, str) else None,
            "at": iso(utcnow()),
        }
        if frame.get("ok") is not True:
            log.warning("an agent refused a role module", extra=kv(agent_id=agent_id, role=name, error=error))

    # --- internals ---

    async def _changed(self, message: dict[str, Any]) -> None:
        await self._reload()
        name = message.get("name")
        self.reports.pop(str(name), None)
        self._spawn(self._send_all(list(self._presence.live), only=str(name)))

    async def _reload(self) -> None:
        current: dict[str, Current] = {}
        for row in await self.listing():
            current[row.name] = Current(
                row.name, row.version, row.target, _frame(row), row.withdrawn_at is not None
            )
        self._current = current
        self._known.note(name for name, entry in current.items() if not entry.withdrawn)

    async def _send_all(self, agent_ids: list[str], only: str | None = None) -> None:
        entries = [e for e in self._current.values() if only is None or e.name == only]
        if not entries or not agent_ids:
            return
        tags: dict[str, set[str]] = {}
        if any("tags" in e.target for e in entries):
            async with self._db.session() as session:
                for start in range(0, len(agent_ids), 500):
                    rows = await session.execute(
                        select(Agent.id, Agent.tags).where(Agent.id.in_(agent_ids[start : start + 500]))
                    )
                    tags.update({agent_id: set(agent_tags or []) for agent_id, agent_tags in rows})
        for count, agent_id in enumerate(agent_ids, 1):
            send = self._presence.sender(agent_id)
            if send is None:
                continue
            for entry in entries:
                if entry.withdrawn or _wants(entry.target, tags.get(agent_id, set())):
                    try:
                        await send(entry.frame)
                    except Exception:  # the socket went away: it gets everything again when it reconnects
                        break
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def _latest(self, session: Any, name: str) -> RoleModule | None:
        row: RoleModule | None = await session.scalar(
            select(RoleModule).where(RoleModule.name == name).order_by(RoleModule.version.desc()).limit(1)
        )
        return row

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
