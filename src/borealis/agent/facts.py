"""What the agent tells the server about its machine at enrollment and in every `hello`."""

from __future__ import annotations

import platform
import socket
from functools import cache

from borealis import __version__


def hostname() -> str:
    return socket.gethostname()


@cache
def host_facts() -> dict[str, str]:
    return {
        "os": platform.system().lower() or "unknown",
        "os_version": _os_version(),
        "kernel": platform.release(),
        "arch": platform.machine(),
        "version": __version__,
    }


def _os_version() -> str:
    if platform.system() == "Linux":
        try:
            release = platform.freedesktop_os_release()
        except OSError:
            return platform.release()
        return release.get("PRETTY_NAME") or release.get("VERSION_ID") or platform.release()
    return platform.version() or platform.release()
