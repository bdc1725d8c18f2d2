"""Which roles this agent has, and loading them: built-in, entry points, drop-in files (DESIGN §8).

- Built-in roles (`BUILTIN`) are imported the first time a job needs them.
- Third-party roles register a zero-argument factory (a class will do) in the `borealis.roles`
  entry point group; their names are read at start, their code loaded at first use.
- Drop-in roles are `<home>/Agent/Roles/role_<purpose>.py` files defining `create_role()`; they are
  imported at start and re-imported when the file changes (`refresh`). Jobs already running keep
  the version they started on; that version is stopped when its last job ends.

Nothing a role does while loading or starting can stop the agent: the failure is kept and shown in
`health()` (the heartbeat's `roles_health`), and jobs for that role fail saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from borealis.agent.roles.contract import Role, RoleContext
from borealis.core.errors import BorealisError
from borealis.core.logs import kv

BUILTIN = {
    "script": "borealis.agent.roles.script",
    "health": "borealis.agent.roles.health",
    "inventory": "borealis.agent.roles.inventory",
    "updates": "borealis.agent.roles.updates",
    "screenshot": "borealis.agent.roles.screenshot",
}
ENTRY_POINT_GROUP = "borealis.roles"
DROPIN_PREFIX, DROPIN_SUFFIX = "role_", ".py"
DROPIN_MODULE = "borealis_dropin_roles"
FILE_SOURCES = frozenset({"dropin", "server"})


def server_role_version(path: Path) -> str | None:
    """The version the server gave a role it sent, kept beside its file as `role_<name>.json`."""
    try:
        recorded = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = recorded.get("version") if isinstance(recorded, dict) else None
    return str(version) if isinstance(version, int) else None


MAX_ERROR_CHARS = 500
PURPOSE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

log = logging.getLogger("borealis.agent.roles")


class RoleUnavailable(BorealisError):
    """No usable role by that name (unknown, failed to load, or failed to start)."""


@dataclass(eq=False)
class Slot:
    """One loaded version of a role and the jobs running on it."""

    role: Role
    source: str
    version: str | None
    active: int = 0
    retired: bool = False


@dataclass
class _Entry:
    name: str
    source: str  # builtin | entry_point | dropin | server
    load: Callable[[], Any] | None = None
    path: Path | None = None
    stamp: tuple[int, int] | None = None
    slot: Slot | None = None
    error: str | None = None
    generation: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _as_role(made: object, expected_name: str | None) -> Role:
    if not isinstance(made, Role):
        raise TypeError(f"{type(made).__name__} does not implement the role contract")
    if expected_name is not None and made.name != expected_name:
        raise ValueError(f"the role is named {made.name!r} but its file says {expected_name!r}")
    return made


def _entry_point_factories() -> dict[str, Callable[[], Any]]:
    from importlib.metadata import entry_points

    found: dict[str, Callable[[], Any]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found[point.name] = point.load
    return found


def _dropin_files(folder: Path) -> dict[str, tuple[Path, tuple[int, int]]]:
    found: dict[str, tuple[Path, tuple[int, int]]] = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for item in entries:
        name = item.name
        if not (name.startswith(DROPIN_PREFIX) and name.endswith(DROPIN_SUFFIX)):
            continue
        purpose = name[len(DROPIN_PREFIX) : -len(DROPIN_SUFFIX)]
        try:
            info = item.stat()
        except OSError:
            continue
        if item.is_file():
            found[purpose] = (Path(item.path), (info.st_mtime_ns, info.st_size))
    return found


def _import_dropin(purpose: str, path: Path, generation: int) -> Role:
    module_name = f"{DROPIN_MODULE}.{purpose}_v{generation}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
        factory = getattr(module, "create_role", None)
        if not callable(factory):
            raise TypeError(f"{path.name} defines no create_role()")
        return _as_role(factory(), purpose)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise


class RoleRegistry:
    def __init__(
        self,
        ctx: RoleContext,
        roles_dir: Path,
        *,
        entry_points: bool = True,
        server_dir: Path | None = None,
    ) -> None:
        self._ctx = ctx
        self._dir = roles_dir
        self._server_dir = server_dir
        self._use_entry_points = entry_points
        self._entries: dict[str, _Entry] = {
            name: _Entry(name, "builtin", load=_builtin_loader(module)) for name, module in BUILTIN.items()
        }
        self._lock = asyncio.Lock()
        self._stopping: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._use_entry_points:
            try:
                factories = await asyncio.to_thread(_entry_point_factories)
            except Exception as exc:
                log.warning("cannot read role entry points", extra=kv(error=_short(exc)))
                factories = {}
            for name, load in factories.items():
                if name in self._entries:
                    log.warning("entry point role ignored: the name is taken", extra=kv(role=name))
                    continue
                self._entries[name] = _Entry(name, "entry_point", load=load)
        await self.refresh()

    def known(self, name: str) -> bool:
        return name in self._entries

    async def refresh(self) -> None:
        """Load new and changed drop-in files; forget deleted ones."""
        async with self._lock:
            files = await asyncio.to_thread(self._role_files)
            for purpose, (path, stamp, source) in files.items():
                entry = self._entries.get(purpose)
                if entry is not None and entry.source not in FILE_SOURCES:
                    if not entry.extra.get("shadow_warned"):
                        log.warning("drop-in role ignored: the name is taken", extra=kv(role=purpose))
                        entry.extra["shadow_warned"] = True
                    continue
                if entry is not None and entry.stamp == stamp and entry.path == path:
                    continue
                if entry is None:
                    entry = self._entries[purpose] = _Entry(purpose, source, path=path)
                entry.source = source
                await self._load_dropin(entry, path, stamp)
            for name in [n for n, e in self._entries.items() if e.source in FILE_SOURCES and n not in files]:
                entry = self._entries.pop(name)
                log.info("drop-in role removed", extra=kv(role=name))
                self._retire(entry.slot)

    def _role_files(self) -> dict[str, tuple[Path, tuple[int, int], str]]:
        """Drop-ins, then roles the server sent (a local drop-in of the same name wins)."""
        found = {name: (path, stamp, "dropin") for name, (path, stamp) in _dropin_files(self._dir).items()}
        if self._server_dir is not None:
            for name, (path, stamp) in _dropin_files(self._server_dir).items():
                found.setdefault(name, (path, stamp, "server"))
        return found

    async def _load_dropin(self, entry: _Entry, path: Path, stamp: tuple[int, int]) -> None:
        entry.stamp, entry.path = stamp, path
        if not PURPOSE.match(entry.name):
            entry.error = f"{path.name}: the part after role_ must be lowercase letters, digits, _"
            self._retire(entry.slot)
            entry.slot = None
            return
        entry.generation += 1
        try:
            role = await asyncio.to_thread(_import_dropin, entry.name, path, entry.generation)
            slot = await self._started(role, entry.source)
            if entry.source == "server":
                slot.version = await asyncio.to_thread(server_role_version, path)
        except Exception as exc:  # a broken file is reported, never fatal
            entry.error = _short(exc)
            log.error("drop-in role failed to load", extra=kv(role=entry.name, path=path, error=entry.error))
            self._retire(entry.slot)
            entry.slot = None
            return
        log.info(
            "drop-in role loaded",
            extra=kv(role=entry.name, version=slot.version, replaced=entry.slot is not None),
        )
        self._retire(entry.slot)
        entry.slot, entry.error = slot, None

    async def _started(self, role: Role, source: str) -> Slot:
        await role.start(self._ctx)
        version = getattr(role, "version", None)
        return Slot(role, source, None if version is None else str(version))

    async def acquire(self, name: str) -> Slot:
        """The current version of `name`, loaded and started; pair with `release`."""
        async with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                raise RoleUnavailable(f"unknown role {name!r}")
            if entry.slot is None and entry.load is not None and entry.error is None:
                try:
                    made = await asyncio.to_thread(entry.load)
                    role = _as_role(made(), None)
                    entry.slot = await self._started(role, entry.source)
                except Exception as exc:
                    entry.error = _short(exc)
                    log.error("role failed to load", extra=kv(role=name, error=entry.error))
            if entry.slot is None:
                raise RoleUnavailable(f"role {name!r} is not usable: {entry.error or 'not loaded'}")
            entry.slot.active += 1
            return entry.slot

    def release(self, slot: Slot) -> None:
        slot.active -= 1
        if slot.retired and slot.active == 0:
            self._stop_later(slot)

    def _retire(self, slot: Slot | None) -> None:
        if slot is None or slot.retired:
            return
        slot.retired = True
        if slot.active == 0:
            self._stop_later(slot)

    def _stop_later(self, slot: Slot) -> None:
        task = asyncio.get_running_loop().create_task(_stop_role(slot))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def health(self) -> dict[str, dict[str, Any]]:
        """`roles_health` for the heartbeat: `{name: {ok, source, version, error}}`."""
        report: dict[str, dict[str, Any]] = {}
        for name, entry in sorted(self._entries.items()):
            report[name] = {
                "ok": entry.error is None,
                "source": entry.source,
                "version": entry.slot.version if entry.slot else None,
                "error": entry.error,
            }
        return report

    async def stop(self) -> None:
        async with self._lock:
            for entry in self._entries.values():
                self._retire(entry.slot)
                entry.slot = None
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)


async def _stop_role(slot: Slot) -> None:
    with contextlib.suppress(Exception):
        await slot.role.stop()


def _builtin_loader(module: str) -> Callable[[], Any]:
    def load() -> Any:
        return importlib.import_module(module).create_role

    return load
