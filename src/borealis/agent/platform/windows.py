"""Windows: the supervisor as a Windows service (`sc.exe`) and the helper in each active session
(WTS session enumeration, `CreateProcessAsUser`).

What can be decided is decided by pure functions (the `sc.exe` command lines, which sessions get a
helper, the launch plan), unit-tested on Linux. The Win32 calls run only on Windows and have not been
run there yet (docs/install.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from borealis.agent.platform.base import SERVICE_NAME, Command, ServiceFile, ServicePlatform, ServiceSpec
from borealis.core.errors import ConfigError

WINDOWS_SERVICE = "BorealisAgent"
SERVICES_SESSION = 0  # session 0 holds services, never a user's desktop
DEFAULT_DESKTOP = "winsta0\\default"
RESTART_DELAYS_MS = (5_000, 5_000, 60_000)
FAILURE_RESET_S = 86_400
CREATE_UNICODE_ENVIRONMENT = 0x00000400
CREATE_NO_WINDOW = 0x08000000
CREATE_NEW_PROCESS_GROUP = 0x00000200


class WtsState(IntEnum):
    """WTS_CONNECTSTATE_CLASS."""

    ACTIVE = 0
    CONNECTED = 1
    CONNECT_QUERY = 2
    SHADOW = 3
    DISCONNECTED = 4
    IDLE = 5
    LISTEN = 6
    RESET = 7
    DOWN = 8
    INIT = 9


@dataclass(frozen=True)
class WtsSession:
    id: int
    station: str
    state: int


@dataclass(frozen=True)
class HelperLaunch:
    """One `CreateProcessAsUserW` call: the session's user token, its desktop, no console window."""

    session_id: int
    application: str
    command_line: str
    desktop: str = DEFAULT_DESKTOP
    creation_flags: int = CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP


class WindowsPlatform(ServicePlatform):
    """The Service Control Manager; nothing is written to disk, the registration is the SCM's."""

    name = "windows"
    service = WINDOWS_SERVICE

    def manager_running(self) -> bool:
        return sys.platform == "win32"

    def venv_python(self, venv: Path) -> Path:
        return venv / "Scripts" / "python.exe"

    def files(self, spec: ServiceSpec) -> list[ServiceFile]:
        return []  # helpers are launched into sessions by the agent, not registered per login

    def activate_commands(self, spec: ServiceSpec) -> list[Command]:
        return service_create_commands(spec)

    def deactivate_commands(self) -> list[Command]:
        return [
            Command(("sc.exe", "stop", WINDOWS_SERVICE), check=False),
            Command(("sc.exe", "delete", WINDOWS_SERVICE), check=False),
        ]

    def reload_commands(self) -> list[Command]:
        return []

    def is_active_command(self) -> Command:
        script = f"if ((Get-Service {WINDOWS_SERVICE} -ErrorAction Stop).Status -ne 'Running') {{ exit 1 }}"
        return Command(("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script), check=False)

    def privileges_problem(self) -> str:
        if sys.platform == "win32" and not _is_admin():
            return "installing the service needs an elevated (administrator) prompt"
        return ""

    def stop_hint(self) -> str:
        return f"sc.exe stop {WINDOWS_SERVICE}"


def service_create_commands(spec: ServiceSpec) -> list[Command]:
    """Register the supervisor with the SCM: automatic start, LocalSystem, restarted on failure.

    `create` may find the service there already (a repair); `config` then makes its definition right.
    """
    actions = "/".join(f"restart/{ms}" for ms in RESTART_DELAYS_MS)
    definition = (
        *("binPath=", subprocess.list2cmdline(spec.agent_command())),
        *("start=", "delayed-auto", "obj=", "LocalSystem", "DisplayName=", "Borealis agent"),
    )
    return [
        Command(("sc.exe", "create", WINDOWS_SERVICE, *definition), check=False),
        Command(("sc.exe", "config", WINDOWS_SERVICE, *definition)),
        Command(
            ("sc.exe", "description", WINDOWS_SERVICE, f"Borealis agent ({SERVICE_NAME}), home {spec.home}")
        ),
        Command(("sc.exe", "failure", WINDOWS_SERVICE, "reset=", str(FAILURE_RESET_S), "actions=", actions)),
        Command(
            ("sc.exe", "failureflag", WINDOWS_SERVICE, "1")
        ),  # also after a non-zero exit, not only a crash
        Command(("sc.exe", "start", WINDOWS_SERVICE)),
    ]


def sessions_for_helpers(sessions: list[WtsSession]) -> list[WtsSession]:
    """Active user sessions (console or remote desktop); never session 0, never listeners."""
    return [s for s in sessions if s.id != SERVICES_SESSION and s.state == WtsState.ACTIVE]


def plan_helper_launch(venv: Path, home: Path, session: WtsSession) -> HelperLaunch:
    """The helper for one session: `pythonw.exe` (no console), told its session, ending with the agent."""
    pythonw = str(venv / "Scripts" / "pythonw.exe")
    argv = [pythonw, "-m", "borealis", "helper", "--home", str(home), "--session", str(session.id), "--once"]
    return HelperLaunch(
        session_id=session.id, application=pythonw, command_line=subprocess.list2cmdline(argv)
    )


def enumerate_sessions() -> list[WtsSession]:
    """`WTSEnumerateSessionsW` on this machine."""
    if sys.platform != "win32":
        raise ConfigError("WTS sessions exist only on Windows")
    import ctypes
    from ctypes import wintypes

    class SessionInfo(ctypes.Structure):
        _fields_ = [
            ("SessionId", wintypes.DWORD),
            ("pWinStationName", wintypes.LPWSTR),
            ("State", ctypes.c_int),
        ]

    wtsapi32 = ctypes.WinDLL("wtsapi32", use_last_error=True)
    info = ctypes.POINTER(SessionInfo)()
    count = wintypes.DWORD()
    if not wtsapi32.WTSEnumerateSessionsW(None, 0, 1, ctypes.byref(info), ctypes.byref(count)):
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        return [WtsSession(i.SessionId, i.pWinStationName or "", i.State) for i in info[: count.value]]
    finally:
        wtsapi32.WTSFreeMemory(info)


def launch_helper(plan: HelperLaunch) -> int:
    """Start the helper as the session's user on its desktop; returns its pid. LocalSystem only."""
    if sys.platform != "win32":
        raise ConfigError("CreateProcessAsUser exists only on Windows")
    import ctypes
    from ctypes import wintypes

    wtsapi32 = ctypes.WinDLL("wtsapi32", use_last_error=True)
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    userenv = ctypes.WinDLL("userenv", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)

    class StartupInfo(ctypes.Structure):
        _fields_ = [
            ("cb", wintypes.DWORD),
            ("lpReserved", wintypes.LPWSTR),
            ("lpDesktop", wintypes.LPWSTR),
            ("lpTitle", wintypes.LPWSTR),
            *((name, wintypes.DWORD) for name in ("dwX", "dwY", "dwXSize", "dwYSize")),
            *((name, wintypes.DWORD) for name in ("dwXCountChars", "dwYCountChars", "dwFillAttribute")),
            ("dwFlags", wintypes.DWORD),
            ("wShowWindow", wintypes.WORD),
            ("cbReserved2", wintypes.WORD),
            ("lpReserved2", ctypes.c_void_p),
            ("hStdInput", wintypes.HANDLE),
            ("hStdOutput", wintypes.HANDLE),
            ("hStdError", wintypes.HANDLE),
        ]

    class ProcessInformation(ctypes.Structure):
        _fields_ = [
            ("hProcess", wintypes.HANDLE),
            ("hThread", wintypes.HANDLE),
            ("dwProcessId", wintypes.DWORD),
            ("dwThreadId", wintypes.DWORD),
        ]

    def check(ok: int) -> None:
        if not ok:
            raise ctypes.WinError(ctypes.get_last_error())

    maximum_allowed, security_impersonation, token_primary = 0x02000000, 2, 1
    user_token, primary = wintypes.HANDLE(), wintypes.HANDLE()
    environment = ctypes.c_void_p()
    check(wtsapi32.WTSQueryUserToken(wintypes.ULONG(plan.session_id), ctypes.byref(user_token)))
    try:
        check(
            advapi32.DuplicateTokenEx(
                user_token,
                maximum_allowed,
                None,
                security_impersonation,
                token_primary,
                ctypes.byref(primary),
            )
        )
        check(userenv.CreateEnvironmentBlock(ctypes.byref(environment), primary, False))
        startup = StartupInfo(cb=ctypes.sizeof(StartupInfo), lpDesktop=plan.desktop)
        process = ProcessInformation()
        command_line = ctypes.create_unicode_buffer(plan.command_line)
        check(
            advapi32.CreateProcessAsUserW(
                primary,
                plan.application,
                command_line,
                None,
                None,
                False,
                plan.creation_flags,
                environment,
                None,
                ctypes.byref(startup),
                ctypes.byref(process),
            )
        )
        kernel32.CloseHandle(process.hThread)
        kernel32.CloseHandle(process.hProcess)
        return int(process.dwProcessId)
    finally:
        if environment:
            userenv.DestroyEnvironmentBlock(environment)
        if primary:
            kernel32.CloseHandle(primary)
        kernel32.CloseHandle(user_token)


def _is_admin() -> bool:
    if sys.platform != "win32":
        return os.geteuid() == 0
    import ctypes

    return bool(ctypes.windll.shell32.IsUserAnAdmin())
