"""The operator's saved connections: one profile per server (URL, API token, pinned TLS certificate)
in the user's config directory, readable by the user alone (0600 in a 0700 directory)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from borealis.core.errors import ConfigError

DEFAULT_PROFILE = "default"
FILE_NAME = "profiles.json"


@dataclass
class Profile:
    url: str
    token: str
    token_id: str = ""
    user: str = ""
    cert_pem: str = ""  # the server's pinned TLS certificate, when pinned at login


def config_dir() -> Path:
    """BOREALIS_CONFIG_DIR, else $XDG_CONFIG_HOME/borealis, else ~/.config/borealis."""
    explicit = os.environ.get("BOREALIS_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "borealis"


def profiles_file() -> Path:
    return config_dir() / FILE_NAME


def _read() -> dict[str, dict[str, str]]:
    path = profiles_file()
    if not path.exists():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    profiles = loaded.get("profiles") if isinstance(loaded, dict) else None
    return profiles if isinstance(profiles, dict) else {}


def _write(profiles: dict[str, dict[str, str]]) -> None:
    path = profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump({"profiles": profiles}, out, indent=2)
    os.chmod(temporary, 0o600)  # an older file of looser mode is replaced, not reused
    os.replace(temporary, path)


def load(name: str) -> Profile | None:
    stored = _read().get(name)
    if not isinstance(stored, dict) or not stored.get("url") or not stored.get("token"):
        return None
    fields = Profile.__dataclass_fields__
    return Profile(**{key: str(value) for key, value in stored.items() if key in fields})


def save(name: str, profile: Profile) -> Path:
    profiles = _read()
    profiles[name] = asdict(profile)
    _write(profiles)
    return profiles_file()


def remove(name: str) -> bool:
    profiles = _read()
    if name not in profiles:
        return False
    del profiles[name]
    _write(profiles)
    return True


def cert_file(name: str, profile: Profile) -> str | None:
    """The pinned certificate as a file for the TLS context (written beside the profiles, 0600)."""
    if not profile.cert_pem:
        return None
    path = config_dir() / f"{name}.pem"
    if not path.exists() or path.read_text(encoding="utf-8") != profile.cert_pem:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(profile.cert_pem)
    return str(path)
