"""`<home>/Agent/install.json`: what `agent install` registered and created, so `repair` and
`remove` know exactly what is theirs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from borealis.core.errors import ConfigError
from borealis.core.home import Home, write_atomic

MANIFEST_FILE = "install.json"
VENV_DIR = "venv"  # <home>/Agent/venv: the installed environment (an update may add Agent/versions/)


@dataclass
class Manifest:
    version: str
    installed_at: str
    platform: str  # systemd | windows
    service: str  # the service's name in its manager
    root: str | None  # None: registered with the real system; else the folder the files went under
    venv: str
    python: str  # the interpreter the service runs
    files: list[str] = field(default_factory=list)  # service definitions written, absolute
    links: list[str] = field(default_factory=list)  # symbolic links made (unit enablement)
    folders: list[str] = field(default_factory=list)  # folders made for them (removed when empty)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, source: Path) -> Manifest:
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict):
            raise ConfigError(f"{source} is damaged: not a JSON object")
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise ConfigError(f"{source} is damaged: {exc}") from exc


def manifest_path(home: Home) -> Path:
    return home.agent / MANIFEST_FILE


def venv_path(home: Home) -> Path:
    return home.agent / VENV_DIR


def read_manifest(home: Home) -> Manifest | None:
    path = manifest_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is damaged: {exc}") from exc
    return Manifest.from_json(data, path)


def write_manifest(home: Home, manifest: Manifest) -> None:
    write_atomic(manifest_path(home), (json.dumps(manifest.to_json(), indent=2) + "\n").encode(), mode=0o644)
