"""Roles the server distributes, on the agent's side (DESIGN §8; protocol.roles).

A `role.install` frame is checked (name, size, the body's sha256, the server's signature over them
with the key pinned at enrollment, a version newer than what this agent holds) and only then written
to `<home>/Agent/Roles/Server/role_<name>.py`, with `role_<name>.json` recording its version. The role
registry loads it like a drop-in at once: running jobs finish on the old version. `role.remove`
deletes it and remembers the version it was removed at, so an old install frame replayed later is
refused. Every outcome is reported back as `role.status` and shows in the heartbeat's `roles_health`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from borealis.agent.link.inbox import Inbox
from borealis.agent.operator_policy import OperatorPolicy
from borealis.agent.roles.registry import RoleRegistry
from borealis.core.errors import BorealisError
from borealis.core.home import ensure_dir, write_atomic
from borealis.core.logs import kv
from borealis.protocol import keys
from borealis.protocol.roles import (
    INSTALL,
    MAX_ROLE_BYTES,
    REMOVE,
    ROLE_NAME,
    STATUS,
    body_sha256,
    role_install_payload,
    role_remove_payload,
)

log = logging.getLogger("borealis.agent.roles.server_roles")


class RoleFrameRefused(BorealisError):
    pass


def _recorded(folder: Path, name: str) -> dict[str, Any]:
    try:
        found = json.loads((folder / f"role_{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _install(folder: Path, name: str, version: int, body: str, sha256: str) -> None:
    ensure_dir(folder, private=True)
    # The version first: a registry scan that sees the new body must read the new version beside it.
    write_atomic(folder / f"role_{name}.json", json.dumps({"version": version, "sha256": sha256}).encode())
    write_atomic(folder / f"role_{name}.py", body.encode("utf-8"))


def _remove(folder: Path, name: str, version: int) -> None:
    (folder / f"role_{name}.py").unlink(missing_ok=True)
    ensure_dir(folder, private=True)
    write_atomic(folder / f"role_{name}.json", json.dumps({"version": version, "removed": True}).encode())


def _held_version(held: dict[str, Any]) -> int:
    version = held.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def _name_and_version(frame: dict[str, Any]) -> tuple[str, int]:
    name, version = frame.get("name"), frame.get("version")
    if not isinstance(name, str) or not ROLE_NAME.fullmatch(name):
        raise RoleFrameRefused("the role name is not valid")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RoleFrameRefused("the role version must be a positive integer")
    return name, version


class ServerRoles:
    def __init__(
        self,
        folder: Path,
        server_key: Ed25519PublicKey,
        registry: RoleRegistry,
        report: Callable[[dict[str, Any]], None],
        policy: OperatorPolicy | None = None,
    ) -> None:
        self._policy = policy
        self._folder = folder
        self._server_key = server_key
        self._registry = registry
        self._report = report
        self._lock = asyncio.Lock()

    def listen(self, inbox: Inbox) -> None:
        """Take `role.install` and `role.remove` frames from the inbox."""
        inbox.route_task(INSTALL, self.on_install)
        inbox.route_task(REMOVE, self.on_remove)

    async def on_install(self, frame: dict[str, Any]) -> None:
        name, version = str(frame.get("name"))[:40], frame.get("version")
        try:
            name, version = _name_and_version(frame)
            if self._policy is not None and self._policy.required:
                raise RoleFrameRefused(
                    "roles from the server are refused: this agent requires operator co-signing "
                    "(install the role as a local drop-in instead)"
                )
            body, sha256 = frame.get("body"), frame.get("sha256")
            if not isinstance(body, str) or len(body.encode("utf-8")) > MAX_ROLE_BYTES:
                raise RoleFrameRefused(f"the role body must be text of at most {MAX_ROLE_BYTES} bytes")
            if not isinstance(sha256, str) or body_sha256(body) != sha256:
                raise RoleFrameRefused("the role body does not match its sha256")
            self._check_signature(frame, role_install_payload(name, version, sha256))
            async with self._lock:
                held = await asyncio.to_thread(_recorded, self._folder, name)
                held_version = _held_version(held)
                if version < held_version or (version == held_version and held.get("removed")):
                    raise RoleFrameRefused(
                        f"version {version} is older than the {held_version} this agent holds"
                    )
                if version > held_version or held.get("sha256") != sha256:
                    await asyncio.to_thread(_install, self._folder, name, version, body, sha256)
                    log.info("role from the server installed", extra=kv(role=name, version=version))
                await self._registry.refresh()
        except RoleFrameRefused as refused:
            log.warning("role from the server refused", extra=kv(role=name, reason=str(refused)))
            self._send(name, version, ok=False, error=str(refused))
            return
        health = self._registry.health().get(name, {})
        loaded = health.get("source") == "server"
        error = health.get("error") or (
            None if loaded else "a local drop-in of the same name takes precedence"
        )
        self._send(name, version, ok=bool(health.get("ok")) and loaded, error=error)

    async def on_remove(self, frame: dict[str, Any]) -> None:
        name, version = str(frame.get("name"))[:40], frame.get("version")
        try:
            name, version = _name_and_version(frame)
            self._check_signature(frame, role_remove_payload(name, version))
            async with self._lock:
                held = await asyncio.to_thread(_recorded, self._folder, name)
                held_version = _held_version(held)
                if version < held_version:
                    raise RoleFrameRefused(
                        f"the removal of version {version} predates version {held_version}"
                    )
                await asyncio.to_thread(_remove, self._folder, name, version)
                log.info("role from the server removed", extra=kv(role=name, version=version))
                await self._registry.refresh()
        except RoleFrameRefused as refused:
            log.warning("role removal refused", extra=kv(role=name, reason=str(refused)))
            self._send(name, version, ok=False, error=str(refused))
            return
        self._send(name, version, ok=True, error=None, removed=True)

    def _check_signature(self, frame: dict[str, Any], payload: bytes) -> None:
        signature = frame.get("signature")
        if not isinstance(signature, str) or not keys.verify(self._server_key, payload, signature):
            raise RoleFrameRefused("bad signature: not signed by the pinned server key")

    def _send(
        self, name: str, version: object, *, ok: bool, error: str | None, removed: bool = False
    ) -> None:
        self._report(
            {
                "t": STATUS,
                "name": name,
                "version": version if isinstance(version, int) else None,
                "ok": ok,
                "removed": removed,
                "error": error,
            }
        )
