"""Linux: a systemd system unit for the supervisor and an XDG autostart entry for the helper.

The helper is registered for graphical logins through `/etc/xdg/autostart` (the desktop starts it in
the session, with the session's DISPLAY, D-Bus address and `XDG_SESSION_ID`). Console logins are
covered by the agent itself, which starts a helper in every session it finds (`helper_spawn`); a
systemd *user* unit is not used because a user manager serves all of a user's sessions and cannot
say which one its helper belongs to.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from borealis.agent.platform.base import (
    HELPER_NAME,
    SERVICE_NAME,
    Command,
    ServiceFile,
    ServiceLink,
    ServicePlatform,
    ServiceSpec,
)

UNIT_DIR = "/etc/systemd/system"
AUTOSTART_DIR = "/etc/xdg/autostart"
SYSTEMD_RUNNING = Path("/run/systemd/system")
WANTED_BY = "multi-user.target"
RESTART_SEC = 5
STOP_MARGIN_S = 20  # beyond the supervisor's own grace: the worker closes its socket, writes its state
NOFILE = 8192
TASKS_MAX = 2048
MEMORY_FLOOR_MB = 1024  # jobs run in the service's cgroup too, so the ceiling is generous
_PLAIN_ARG = re.compile(r"^[A-Za-z0-9/._+:@,=-]+$")


class SystemdPlatform(ServicePlatform):
    name = "systemd"
    service = f"{SERVICE_NAME}.service"

    def manager_running(self) -> bool:
        return SYSTEMD_RUNNING.is_dir()

    def venv_python(self, venv: Path) -> Path:
        return venv / "bin" / "python"

    def files(self, spec: ServiceSpec) -> list[ServiceFile]:
        return [
            ServiceFile(self.under_root(f"{UNIT_DIR}/{self.service}"), service_unit(spec)),
            ServiceFile(self.under_root(f"{AUTOSTART_DIR}/{HELPER_NAME}.desktop"), autostart_entry(spec)),
        ]

    def links(self, spec: ServiceSpec) -> list[ServiceLink]:
        """What `systemctl enable` makes, so the unit starts at boot even when written without systemd."""
        wants = self.under_root(f"{UNIT_DIR}/{WANTED_BY}.wants/{self.service}")
        return [ServiceLink(wants, f"{UNIT_DIR}/{self.service}")]

    def helper_warning(self, spec: ServiceSpec) -> str:
        blocked = unreachable_by_users(spec.python)
        if blocked is None:
            return ""
        return (
            f"note: other users cannot reach {blocked}, so the autostart helper cannot run "
            f"{spec.python}; the agent starts helpers in sessions itself (helper_spawn)"
        )

    def activate_commands(self, spec: ServiceSpec) -> list[Command]:
        return [
            Command(("systemctl", "daemon-reload")),
            Command(("systemctl", "enable", "--now", self.service)),
        ]

    def deactivate_commands(self) -> list[Command]:
        return [Command(("systemctl", "disable", "--now", self.service), check=False)]

    def reload_commands(self) -> list[Command]:
        return [Command(("systemctl", "daemon-reload"))]

    def is_active_command(self) -> Command:
        return Command(("systemctl", "is-active", "--quiet", self.service), check=False)

    def privileges_problem(self) -> str:
        if os.geteuid() != 0:
            return "installing the service needs root (run it with sudo, or use --root DIR to only write the files)"
        return ""

    def stop_hint(self) -> str:
        return f"systemctl stop {self.service}"


def unreachable_by_users(program: Path) -> Path | None:
    """The first folder (or the file) on the way to `program`, and to what its symlink points at,
    that a user other than its owner cannot pass or run; None when every user can run it."""
    real = program.resolve()
    checks = [(folder, stat.S_IXOTH) for folder in [*reversed(program.parents), *reversed(real.parents)]]
    checks.append((real, stat.S_IXOTH | stat.S_IROTH))
    for path, needed in checks:
        try:
            mode = path.stat().st_mode
        except OSError:
            return path
        if mode & needed != needed:
            return path
    return None


def service_unit(spec: ServiceSpec) -> str:
    """The supervisor's unit: restarted always, stopped through the supervisor, bounded."""
    memory_max = max(MEMORY_FLOOR_MB, int(4 * spec.memory_budget_mb))
    stop_timeout = int(spec.stop_timeout_s) + STOP_MARGIN_S
    return "\n".join(
        [
            "# Written by `borealis agent install`; `borealis agent repair` rewrites it, `remove` deletes it.",
            "[Unit]",
            "Description=Borealis agent",
            "Wants=network-online.target",
            "After=network-online.target",
            "StartLimitIntervalSec=0",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={exec_line(spec.agent_command())}",
            "User=root",
            f"WorkingDirectory={_escape_specifiers(str(spec.home))}",
            "Restart=always",
            f"RestartSec={RESTART_SEC}",
            # SIGTERM to the supervisor only: it stops the worker, which ends its jobs; what is left
            # in the cgroup afterwards is killed.
            "KillMode=mixed",
            "KillSignal=SIGTERM",
            f"TimeoutStopSec={stop_timeout}",
            f"LimitNOFILE={NOFILE}",
            f"TasksMax={TASKS_MAX}",
            f"MemoryMax={memory_max}M",
            "StandardOutput=journal",
            "StandardError=journal",
            f"SyslogIdentifier={SERVICE_NAME}",
            "",
            "[Install]",
            f"WantedBy={WANTED_BY}",
            "",
        ]
    )


def autostart_entry(spec: ServiceSpec) -> str:
    """The XDG autostart entry: every graphical login starts a helper for its own session."""
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Name=Borealis session helper",
            "Comment=Runs Borealis jobs in this session for the local agent",
            f"Exec={desktop_exec_line(spec.helper_command())}",
            "Terminal=false",
            "NoDisplay=true",
            "X-GNOME-Autostart-enabled=true",
            "",
        ]
    )


def exec_line(argv: list[str]) -> str:
    """A systemd command line: arguments quoted where needed, `%` and `$` escaped."""
    return " ".join(_systemd_quote(_escape_specifiers(arg).replace("$", "$$")) for arg in argv)


def desktop_exec_line(argv: list[str]) -> str:
    """A Desktop Entry `Exec` value (freedesktop spec: quoting, then the string escapes)."""
    return " ".join(_desktop_quote(arg) for arg in argv)


def _escape_specifiers(text: str) -> str:
    return text.replace("%", "%%")


def _systemd_quote(arg: str) -> str:
    if _PLAIN_ARG.match(arg.replace("%%", "").replace("$$", "")):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _desktop_quote(arg: str) -> str:
    if _PLAIN_ARG.match(arg):
        return arg
    quoted = re.sub(r'(["`$\\])', r"\\\1", arg).replace("%", "%%")
    return '"' + quoted.replace("\\", "\\\\") + '"'
