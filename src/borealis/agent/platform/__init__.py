"""Operating-system specific code of the agent (DESIGN §15, §16), behind `base.ServicePlatform`."""

from __future__ import annotations

import sys
from pathlib import Path

from borealis.agent.platform.base import ServicePlatform
from borealis.core.errors import ConfigError


def service_platform(root: Path | None = None, system: str = sys.platform) -> ServicePlatform:
    """The service manager of `system` (this machine by default); `root` redirects its files."""
    if system.startswith("linux"):
        from borealis.agent.platform.linux import SystemdPlatform

        return SystemdPlatform(root)
    if system == "win32":
        from borealis.agent.platform.windows import WindowsPlatform

        return WindowsPlatform(root)
    raise ConfigError(f"installing the agent as a service is not supported on {system}")
