"""What the installer asks of an operating system (DESIGN §16): register the agent's service and the
user-session helper's autostart, and turn them on and off.

A `ServicePlatform` only *decides*: the files to write (under a root, so tests can look at them) and
the commands to run (only on a live system). The installer does the writing and the running.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

SERVICE_NAME = "borealis-agent"
HELPER_NAME = "borealis-helper"


@dataclass(frozen=True)
class ServiceSpec:
    """The installed agent as a service manager sees it."""

    python: Path  # the installed environment's interpreter
    home: Path
    stop_timeout_s: float  # the supervisor's grace for its worker; the service's must be longer
    memory_budget_mb: float  # the worker's budget; the service's ceiling sits well above it

    def agent_command(self) -> list[str]:
        return [str(self.python), "-m", "borealis", "agent", "run", "--home", str(self.home)]

    def helper_command(self) -> list[str]:
        return [str(self.python), "-m", "borealis", "helper", "--home", str(self.home)]


@dataclass(frozen=True)
class ServiceFile:
    """A file the platform registers: where it goes (already under the root) and what it holds."""

    path: Path
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class ServiceLink:
    """A symbolic link the platform registers (how systemd enables a unit): `path` → `target`."""

    path: Path
    target: str


@dataclass(frozen=True)
class Command:
    """A command run on a live system; `check=False` where failing is an expected answer."""

    argv: tuple[str, ...]
    check: bool = True

    def __str__(self) -> str:
        return " ".join(self.argv)


class ServicePlatform(ABC):
    """One operating system's service manager and session autostart, seen from the installer."""

    name: str
    service: str  # the service's name as the service manager knows it

    def __init__(self, root: Path | None = None) -> None:
        self.root = root  # None: the real system; else every file goes under this folder

    @property
    def live(self) -> bool:
        """True when commands are run: the real system (no root) with its service manager running."""
        return self.root is None and self.manager_running()

    def under_root(self, path: str) -> Path:
        """`path` (absolute, in the real system's terms) as written under the root, if any."""
        return (self.root / path.lstrip("/\\")) if self.root is not None else Path(path)

    @abstractmethod
    def manager_running(self) -> bool:
        """Is the service manager of this system up (so registration can take effect now)?"""

    @abstractmethod
    def venv_python(self, venv: Path) -> Path:
        """The interpreter of a virtual environment on this system."""

    @abstractmethod
    def files(self, spec: ServiceSpec) -> list[ServiceFile]:
        """Every file that registers the service and the helper's autostart."""

    def links(self, spec: ServiceSpec) -> list[ServiceLink]:
        """Links that enable the service without its manager running (written under the root too)."""
        return []

    def helper_warning(self, spec: ServiceSpec) -> str:
        """Why a helper started by the session itself could not run; empty when it can."""
        return ""

    @abstractmethod
    def activate_commands(self, spec: ServiceSpec) -> list[Command]:
        """Register (where files do not), enable and start the service."""

    @abstractmethod
    def deactivate_commands(self) -> list[Command]:
        """Stop the service and unregister it (before its files are removed)."""

    @abstractmethod
    def reload_commands(self) -> list[Command]:
        """What the service manager needs after its files were written, changed or removed."""

    @abstractmethod
    def is_active_command(self) -> Command:
        """Exits 0 when the service is registered and running."""

    @abstractmethod
    def privileges_problem(self) -> str:
        """Why this process cannot register services on the real system; empty when it can."""

    @abstractmethod
    def stop_hint(self) -> str:
        """How an administrator stops the installed service by hand."""
