"""The one folder a deployment writes to (DESIGN §3), and the paths inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "./borealis-home"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, value: str | os.PathLike[str] | None = None) -> Home:
        chosen = value or os.environ.get("BOREALIS_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def server(self) -> Path:
        return self.root / "Server"

    @property
    def server_keys(self) -> Path:
        return self.server / "keys"

    @property
    def server_db(self) -> Path:
        return self.server / "borealis.db"

    @property
    def server_toml(self) -> Path:
        return self.server / "server.toml"

    @property
    def blobs(self) -> Path:
        return self.server / "blobs"

    @property
    def agent(self) -> Path:
        return self.root / "Agent"

    @property
    def agent_toml(self) -> Path:
        return self.agent / "agent.toml"

    @property
    def agent_identity(self) -> Path:
        return self.agent / "identity"

    @property
    def agent_state(self) -> Path:
        return self.agent / "state"

    @property
    def agent_roles(self) -> Path:
        return self.agent / "Roles"

    @property
    def server_logs(self) -> Path:
        return self.root / "Logs" / "Server"

    @property
    def agent_logs(self) -> Path:
        return self.root / "Logs" / "Agent"


def ensure_dir(path: Path, private: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if private and os.name == "posix":
        path.chmod(0o700)
    return path


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file so readers see either the old or the new content, never half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
