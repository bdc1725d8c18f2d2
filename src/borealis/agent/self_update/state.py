"""Installed agent versions and which one runs: `<home>/Agent/versions/` (docs/updates.md).

    versions/<version>/            a virtual environment holding that version of the agent
    versions/<version>/borealis-version.json   written last: the install is complete
    versions/state.json            {active, previous, switch_to, trial, rollback}

`active` names the version the supervisor starts the worker from (None: the environment the
supervisor itself runs in, i.e. the installed `Agent/venv` or a development checkout). The worker
asks for a switch by writing `switch_to` and exiting with `SWITCH_EXIT_CODE`; the supervisor makes the
switch, watches the `trial`, and records a `rollback` that the old worker then reports to the server.
Plain synchronous file I/O: the supervisor calls it directly, the worker through a thread.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from borealis.core import codec
from borealis.core.errors import InvalidInput
from borealis.core.home import Home, ensure_dir, write_atomic
from borealis.protocol.agent_updates import VERSION_PATTERN

SWITCH_EXIT_CODE = 78  # the worker exits with this after writing `switch_to`
STATE_FILE = "state.json"
MARKER_FILE = "borealis-version.json"
DOWNLOADS_DIR = ".downloads"


@dataclass
class Rollback:
    version: str  # the version that was given up
    reason: str
    at: str
    reported: bool = False


@dataclass
class Trial:
    version: str
    started_at: str


@dataclass
class VersionState:
    active: str | None = None
    previous: str | None = None
    switch_to: str | None = None
    trial: Trial | None = None
    rollback: Rollback | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> VersionState:
        """A damaged file reads as "nothing installed": the supervisor then runs its own version."""
        if not isinstance(data, dict):
            return cls()
        try:
            trial, rollback = data.get("trial"), data.get("rollback")
            return cls(
                active=_version_or_none(data.get("active")),
                previous=_version_or_none(data.get("previous")),
                switch_to=_version_or_none(data.get("switch_to")),
                trial=Trial(**_known(Trial, trial)) if isinstance(trial, dict) else None,
                rollback=Rollback(**_known(Rollback, rollback)) if isinstance(rollback, dict) else None,
            )
        except TypeError:
            return cls()


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _version_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and VERSION_PATTERN.fullmatch(value) else None


def versions_dir(home: Home) -> Path:
    return home.agent / "versions"


def version_dir(home: Home, version: str) -> Path:
    if not VERSION_PATTERN.fullmatch(version):
        raise InvalidInput(f"not a version: {version!r}")
    return versions_dir(home) / version


def interpreter(env: Path) -> Path:
    """The Python of a virtual environment, on POSIX and Windows."""
    return env / "Scripts" / "python.exe" if os.name == "nt" else env / "bin" / "python"


def is_complete(home: Home, version: str) -> bool:
    env = version_dir(home, version)
    return (env / MARKER_FILE).is_file() and interpreter(env).exists()


def read_state(home: Home) -> VersionState:
    try:
        return VersionState.from_json(codec.loads((versions_dir(home) / STATE_FILE).read_bytes()))
    except (OSError, InvalidInput):
        return VersionState()


def write_state(home: Home, state: VersionState) -> None:
    ensure_dir(versions_dir(home))
    write_atomic(versions_dir(home) / STATE_FILE, codec.dumps_bytes(state.to_json()), mode=0o644)


def mark_complete(home: Home, version: str) -> None:
    write_atomic(version_dir(home, version) / MARKER_FILE, codec.dumps_bytes({"version": version}), 0o644)


def prune_versions(home: Home, keep: set[str]) -> list[str]:
    """Delete installed versions other than `keep`, and leftover downloads; returns what went."""
    removed: list[str] = []
    root = versions_dir(home)
    if not root.is_dir():
        return removed
    for entry in root.iterdir():
        if entry.is_dir() and (entry.name == DOWNLOADS_DIR or entry.name not in keep):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed
