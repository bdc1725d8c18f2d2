"""The user account a helper serves: its login session, loading what the helper needs while still
root, and dropping from root to that user for good."""

from __future__ import annotations

import contextlib
import importlib
import os
import pwd

from borealis.core.errors import ConfigError

# Imported lazily by the standard library once the loop runs; after `become` the agent's interpreter
# and its library may be out of the user's reach, so they are loaded while still root.
PRELOAD = (
    "concurrent.futures.thread",
    "asyncio.subprocess",
    "asyncio.unix_events",
    "encodings.idna",
    "borealis.agent.roles.screenshot",
    "PIL.PngImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.WebPImagePlugin",
    "mmap",
    "ctypes.util",
    "mss",
    "mss.linux",
    "mss.linux.xcb",
    "mss.linux.xcbgen",
    "mss.linux.xcbhelpers",
    "mss.linux.xlib",
    "mss.linux.xgetimage",
    "mss.linux.xshmgetimage",
)


def preload() -> None:
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def session_id_of_this_process() -> str:
    """The login session this process belongs to, as logind names it, else the user's own name."""
    found = os.environ.get("XDG_SESSION_ID", "")
    if found:
        return found
    return "user:" + pwd.getpwuid(os.getuid()).pw_name


def become(user: str) -> None:
    """Drop from root to `user` for good: supplementary groups, gid, uid, then the account's basics."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ConfigError(f"no such user: {user!r}") from None
    if os.getuid() != 0:
        if entry.pw_uid == os.getuid():
            return
        raise ConfigError(f"only root can start a helper for another user ({user!r})")
    os.initgroups(user, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if os.getuid() != entry.pw_uid or os.geteuid() != entry.pw_uid:
        raise ConfigError(f"could not become {user!r}")
    os.environ.update(HOME=entry.pw_dir, USER=user, LOGNAME=user, SHELL=entry.pw_shell or "/bin/sh")
    try:
        os.chdir(entry.pw_dir)
    except OSError:
        os.chdir("/")
