"""Who this agent is: the id the server issued and the server key pinned at enrollment.

`<home>/Agent/identity/identity.json` is written last at enrollment, so its presence means
"enrolled". This module reads it without loading any cryptography, so the supervisor stays small;
the keys themselves are handled in `credentials`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from borealis.core import codec
from borealis.core.errors import ConfigError, InvalidInput
from borealis.core.home import Home, ensure_dir, write_atomic

IDENTITY_FILE = "identity.json"


@dataclass(frozen=True)
class Identity:
    agent_id: str
    server_url: str
    server_public_key: str
    fingerprint: str
    enrolled_at: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, source: Path) -> Identity:
        names = ("agent_id", "server_url", "server_public_key", "fingerprint", "enrolled_at")
        if not isinstance(data, dict) or not all(isinstance(data.get(n), str) and data[n] for n in names):
            raise ConfigError(f"{source} is damaged; enroll again with --force")
        return cls(**{n: data[n] for n in names})


def identity_path(home: Home) -> Path:
    return home.agent_identity / IDENTITY_FILE


def is_enrolled(home: Home) -> bool:
    return identity_path(home).is_file()


def load_identity(home: Home) -> Identity:
    path = identity_path(home)
    if not path.is_file():
        raise ConfigError(f"not enrolled: no agent identity in {home.root} (run `borealis agent enroll`)")
    try:
        data = codec.loads(path.read_bytes())
    except (OSError, InvalidInput) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return Identity.from_json(data, path)


def write_identity(home: Home, identity: Identity) -> None:
    ensure_dir(home.agent_identity, private=True)
    write_atomic(identity_path(home), codec.dumps_bytes(identity.to_json()), mode=0o600)
