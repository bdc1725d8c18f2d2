"""Starting user-session helpers for the sessions the agent finds (DESIGN §2).

A helper is started as `python -m borealis.agent.user_session.helper --user NAME --once`: as root it imports what it
needs, then becomes the session's user; it inherits the session's environment (DISPLAY, the D-Bus
address, XDG_RUNTIME_DIR, …). Its stderr goes to `Logs/Agent/helper-<user>.log`, rotated and pruned
like every log. A helper that exits is started again later with a growing delay; at most one process
per session is ever started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field

from borealis.agent.user_session.local_ipc import describe
from borealis.agent.user_session.sessions import Session, session_environment
from borealis.core.home import Home
from borealis.core.logs import LogPolicy, PruningFileHandler, kv

RETRY_BASE_S = 2.0
RETRY_CAP_S = 300.0
STOP_GRACE_S = 3.0
MAX_LOG_LINE = 4096
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

log = logging.getLogger("borealis.agent.helpers")


@dataclass
class _Spawned:
    session: Session
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None
    failures: int = 0
    next_try: float = 0.0
    warned: set[str] = field(default_factory=set)


def helper_command(home: Home, address: str, session: Session, *, as_root: bool) -> list[str]:
    command = [
        *(sys.executable, "-m", "borealis.agent.user_session.helper", "--home", str(home.root)),
        *("--socket", describe(address), "--session", session.id),
    ]
    if as_root:
        command += ["--user", session.user]
    return [*command, "--once"]


class HelperProcesses:
    """The helper processes this agent started, one per session at most."""

    def __init__(self, home: Home, policy: LogPolicy, address: str) -> None:
        self._home = home
        self._address = address
        self._policy = policy
        self._spawned: dict[str, _Spawned] = {}
        self._logs: dict[str, logging.Logger] = {}

    def running(self, session_id: str) -> bool:
        entry = self._spawned.get(session_id)
        return bool(entry and entry.process and entry.process.returncode is None)

    async def ensure(self, session: Session) -> None:
        """Start a helper for `session` unless one is running or the retry delay has not passed."""
        entry = self._spawned.setdefault(session.id, _Spawned(session))
        if self.running(session.id) or time.monotonic() < entry.next_try:
            return
        as_root = os.getuid() == 0
        if not as_root and session.uid != os.getuid():
            if "not-root" not in entry.warned:
                entry.warned.add("not-root")
                log.warning(
                    "cannot start a helper for another user: the agent is not root",
                    extra=kv(session=session.id, user=session.user),
                )
            return
        command = helper_command(self._home, self._address, session, as_root=as_root)
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=session_environment(session),
                start_new_session=True,
            )
        except OSError as exc:
            self._failed(entry, f"cannot start: {exc}")
            return
        entry.process = process
        entry.pump = asyncio.create_task(self._watch(entry, process), name=f"helper-{session.id}")
        log.info("helper started", extra=kv(session=session.id, user=session.user, pid=process.pid))

    async def retire(self, current: set[str]) -> None:
        """Stop helpers whose session has ended."""
        for session_id in [s for s in self._spawned if s not in current]:
            await self._stop_one(self._spawned.pop(session_id))

    async def stop(self) -> None:
        for entry in list(self._spawned.values()):
            await self._stop_one(entry)
        self._spawned.clear()
        for logger in self._logs.values():
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
                handler.close()
        self._logs.clear()

    async def _stop_one(self, entry: _Spawned) -> None:
        process = entry.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if entry.pump is not None:
            entry.pump.cancel()
            await asyncio.gather(entry.pump, return_exceptions=True)

    async def _watch(self, entry: _Spawned, process: asyncio.subprocess.Process) -> None:
        """Copy the helper's stderr into its log file; when it exits, plan the next start."""
        sink = self._log_for(entry.session.user)
        started = time.monotonic()
        assert process.stderr is not None
        while True:
            line = await process.stderr.readline()
            if not line:
                break
            sink.info(line[:MAX_LOG_LINE].decode("utf-8", "replace").rstrip())
        code = await process.wait()
        if time.monotonic() - started > RETRY_CAP_S:
            entry.failures = 0
        self._failed(entry, f"exited with code {code}")

    def _failed(self, entry: _Spawned, why: str) -> None:
        entry.failures += 1
        delay = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(entry.failures - 1, 10))
        entry.next_try = time.monotonic() + delay
        log.warning(
            "helper ended",
            extra=kv(session=entry.session.id, user=entry.session.user, why=why, retry_in_s=delay),
        )

    def _log_for(self, user: str) -> logging.Logger:
        name = _UNSAFE.sub("_", user) or "unknown"
        logger = self._logs.get(name)
        if logger is None:
            logger = logging.getLogger(f"borealis.helper-log.{name}")
            logger.propagate = False
            logger.setLevel(logging.INFO)
            handler = PruningFileHandler(self._home.agent_logs / f"helper-{name}.log", self._policy)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
            self._logs[name] = logger
        return logger
