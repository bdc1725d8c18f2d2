"""Installing updates with the machine's package manager: the commands, and telling a held lock.

`install_command` builds the argv and environment for apt-get, dnf or zypper; `dpkg_lock_held`
tries dpkg's front-end lock without waiting (and lets go at once), so a busy apt is reported instead
of waited for; `lock_message` finds a package manager's own "locked" complaint in its output.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from borealis.core.errors import BorealisError

DPKG_FRONTEND_LOCK = Path("/var/lib/dpkg/lock-frontend")
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:~=-]{0,199}$")
MAX_PACKAGES = 1000
WHICH = ("all", "security", "named")
_LOCK_LINES = re.compile(
    r"^.*(Could not get lock|Unable to acquire the dpkg frontend lock|Waiting for process with pid"
    r"|System management is locked|another copy is running).*$",
    re.MULTILINE,
)


class NothingToInstall(BorealisError):
    """`which: security` with no pending security update."""


@dataclass(frozen=True)
class InstallCommand:
    argv: list[str]
    env: dict[str, str]


def check_packages(packages: object) -> list[str]:
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise ValueError("params.packages must be a list of package names")
    if not packages or len(packages) > MAX_PACKAGES:
        raise ValueError(f"params.packages must name 1 to {MAX_PACKAGES} packages")
    bad = [p for p in packages if not PACKAGE_NAME.match(p)]
    if bad:
        raise ValueError(f"not package names: {bad[:5]}")
    return list(dict.fromkeys(packages))


def install_command(
    manager: str,
    which: str,
    packages: Sequence[str],
    pending: Sequence[dict[str, Any]],
    apt_options: Sequence[str] = (),
) -> InstallCommand:
    """`pending` is the updates listing (for apt's `security`: the names to upgrade)."""
    if manager == "apt":
        base = [
            "apt-get", "-y", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
            *apt_options,
        ]  # fmt: skip
        env = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"}
        if which == "all":
            return InstallCommand([*base, "dist-upgrade"], env)
        if which == "security":
            names = sorted({u["name"] for u in pending if u.get("security")})
            if not names:
                raise NothingToInstall("no pending security updates")
            return InstallCommand([*base, "install", "--only-upgrade", *names], env)
        return InstallCommand([*base, "install", "--only-upgrade", *packages], env)
    if manager == "dnf":
        base = ["dnf", "-y"]
        if which == "all":
            return InstallCommand([*base, "upgrade"], {})
        if which == "security":
            return InstallCommand([*base, "upgrade", "--security"], {})
        return InstallCommand([*base, "upgrade", *packages], {})
    base = ["zypper", "--non-interactive"]
    if which == "all":
        return InstallCommand([*base, "update"], {})
    if which == "security":
        return InstallCommand([*base, "patch", "--category", "security"], {})
    return InstallCommand([*base, "update", *packages], {})


def dpkg_lock_held(path: Path = DPKG_FRONTEND_LOCK) -> bool:
    """Blocking. True when another process holds dpkg's front-end lock right now."""
    import fcntl  # POSIX only; imported here so the updates role still loads elsewhere

    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False  # no dpkg, or not ours to lock: apt will say so itself
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_message(output: str) -> str | None:
    """The package manager's line saying another one holds its lock, if it printed one."""
    match = _LOCK_LINES.search(output)
    return match.group(0).strip() if match else None
