"""Who is logged in: the interactive sessions a user-session helper can serve (DESIGN §2).

On Linux the sessions come from `loginctl` (systemd-logind) and, where that is not running, from
utmp. A user named in agent.toml (`helper_user`) adds a "configured" session for machines without a
login (kiosks, servers, tests). The session for `run_as: user` jobs is the active graphical one,
else an active console one, else the configured one.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

LOGINCTL_TIMEOUT_S = 5.0
GRAPHICAL_TYPES = frozenset({"x11", "wayland", "mir"})
UTMP_PATHS = (Path("/run/utmp"), Path("/var/run/utmp"))
CONFIGURED_PREFIX = "user:"
# The session environment a helper inherits from the session's leader process.
SESSION_ENV_KEYS = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "XDG_RUNTIME_DIR",
    "XDG_SESSION_ID",
    "XDG_SESSION_TYPE",
    "XDG_SESSION_DESKTOP",
    "XDG_CURRENT_DESKTOP",
    "DBUS_SESSION_BUS_ADDRESS",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "PATH",
)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# struct utmp on Linux (x86_64 and aarch64): type, pid, line, id, user, host, exit, session, tv, addr.
_UTMP = struct.Struct("=h2xi32s4s32s256shhi2i4i20s")
_USER_PROCESS = 7


@dataclass(frozen=True)
class Session:
    id: str
    user: str
    uid: int
    kind: str  # graphical | console | configured
    active: bool = True
    leader: int | None = None
    tty: str = ""
    env: dict[str, str] = field(default_factory=dict, compare=False)


def parse_properties(text: str) -> dict[str, str]:
    """`Key=Value` lines, as `loginctl show-session` prints them."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def session_from_properties(props: dict[str, str]) -> Session | None:
    """A user session from `loginctl show-session` output; None for greeters, managers, remote ones."""
    if props.get("Class", "user") != "user" or props.get("Remote") == "yes":
        return None
    try:
        uid = int(props["User"])
    except (KeyError, ValueError):
        return None
    leader = int(props["Leader"]) if props.get("Leader", "").isdigit() else None
    kind = "graphical" if props.get("Type", "") in GRAPHICAL_TYPES else "console"
    active = props.get("Active") == "yes" and props.get("State", "active") in ("active", "online")
    return Session(
        id=props.get("Id", ""),
        user=props.get("Name", ""),
        uid=uid,
        kind=kind,
        active=active,
        leader=leader,
        tty=props.get("TTY", ""),
    )


def parse_utmp(data: bytes) -> list[Session]:
    """USER_PROCESS records whose process is still alive: one console session per terminal line."""
    sessions: list[Session] = []
    for offset in range(0, len(data) - _UTMP.size + 1, _UTMP.size):
        record = _UTMP.unpack_from(data, offset)
        kind, pid, line, user, host = record[0], record[1], record[2], record[4], record[5]
        if kind != _USER_PROCESS or pid <= 0 or not _alive(pid):
            continue
        name = user.split(b"\0", 1)[0].decode("utf-8", "replace")
        tty = line.split(b"\0", 1)[0].decode("utf-8", "replace")
        if host.split(b"\0", 1)[0] and not tty.startswith(":"):
            continue  # a remote login (ssh): not an interactive desktop or console session
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        kind_name = "graphical" if tty.startswith(":") else "console"
        sessions.append(Session(id=f"tty:{tty}", user=name, uid=uid, kind=kind_name, leader=pid, tty=tty))
    return sessions


def configured_session(user: str, display: str = "") -> Session | None:
    """The session agent.toml names (`helper_user`, and `helper_display` for a kiosk's X display)."""
    if not user:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    env = {"DISPLAY": display} if display else {}
    return Session(id=CONFIGURED_PREFIX + user, user=user, uid=entry.pw_uid, kind="configured", env=env)


def pick_for_user_jobs(sessions: list[Session]) -> Session | None:
    """The session `run_as: user` jobs go to: active graphical, then active console, then configured."""
    rank = {"graphical": 0, "console": 1, "configured": 2}
    usable = [s for s in sessions if s.active]
    return min(usable, key=lambda s: (rank.get(s.kind, 3), s.id), default=None)


def session_environment(session: Session) -> dict[str, str]:
    """What a helper for `session` starts with: the account's basics, then the leader's session vars."""
    try:
        entry = pwd.getpwnam(session.user)
        basics = {
            "HOME": entry.pw_dir,
            "USER": session.user,
            "LOGNAME": session.user,
            "SHELL": entry.pw_shell or "/bin/sh",
        }
    except KeyError:
        basics = {"USER": session.user, "LOGNAME": session.user}
    env = {"PATH": DEFAULT_PATH, **basics}
    runtime = f"/run/user/{session.uid}"
    if os.path.isdir(runtime):
        env["XDG_RUNTIME_DIR"] = runtime
        env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={runtime}/bus"
    env.update(session.env)
    if session.leader is not None:
        env.update(_leader_environment(session.leader))
    if not session.id.startswith(CONFIGURED_PREFIX) and not session.id.startswith("tty:"):
        env["XDG_SESSION_ID"] = session.id
    return env


def _leader_environment(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    found: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        name = key.decode("utf-8", "replace")
        if sep and name in SESSION_ENV_KEYS:
            found[name] = value.decode("utf-8", "replace")
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _run(*command: str) -> str | None:
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(process.communicate(), LOGINCTL_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    return out.decode("utf-8", "replace") if process.returncode == 0 else None


async def logind_sessions() -> list[Session] | None:
    """Sessions systemd-logind knows, or None when loginctl is missing or logind is not running."""
    loginctl = shutil.which("loginctl")
    if loginctl is None:
        return None
    listing = await _run(loginctl, "list-sessions", "--no-legend", "--no-pager")
    if listing is None:
        return None
    sessions: list[Session] = []
    for line in listing.splitlines():
        words = line.split()
        if not words:
            continue
        shown = await _run(loginctl, "show-session", words[0], "--no-pager")
        session = session_from_properties(parse_properties(shown or ""))
        if session is not None and session.id:
            sessions.append(session)
    return sessions


def utmp_sessions() -> list[Session]:
    for path in UTMP_PATHS:
        try:
            return parse_utmp(path.read_bytes())
        except OSError:
            continue
    return []


async def login_sessions(helper_user: str = "", helper_display: str = "") -> list[Session]:
    """Every interactive session on this machine, plus the configured one when `helper_user` is set."""
    sessions = await logind_sessions()
    if sessions is None:
        sessions = await asyncio.to_thread(utmp_sessions)
    configured = configured_session(helper_user, helper_display)
    if configured is not None:
        sessions.append(configured)
    return sessions
