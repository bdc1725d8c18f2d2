"""The agent's side of the user-session helpers (DESIGN §2, §8): accept them, route user jobs.

The hub listens on the local socket (`local_ipc`). A helper says which session it serves; the hub
takes the kernel's word for its uid and accepts it only when that session is a current one owned by
that uid, and only when no other helper serves it. `run_as: user` jobs go to the helper of the chosen
session (`sessions.pick_for_user_jobs`) through `helper_link.UserSessionRole`; with no session they are refused at
once with the reason, and with a session whose helper has not connected they wait a bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from borealis.agent.user_session import local_ipc
from borealis.agent.user_session.helper_link import HelperLink, UserSessionRole
from borealis.agent.user_session.helper_spawn import HelperProcesses
from borealis.agent.user_session.local_ipc import IpcType
from borealis.agent.user_session.sessions import Session, login_sessions, pick_for_user_jobs
from borealis.core.errors import BorealisError, ProtocolError
from borealis.core.logs import kv

HELLO_TIMEOUT_S = 5.0
HELPER_WAIT_S = 15.0
SESSIONS_MAX_AGE_S = 2.0
MAX_SESSION_CHARS = 128

log = logging.getLogger("borealis.agent.helpers")


class NoUserSession(BorealisError):
    """A `run_as: user` job has nowhere to run; the message says why."""


class _Refused(BorealisError):
    pass


class HelperHub:
    def __init__(
        self,
        address: str,
        *,
        helper_user: str = "",
        helper_display: str = "",
        spawner: HelperProcesses | None = None,
        scan_s: float = 10.0,
        helper_wait_s: float = HELPER_WAIT_S,
    ) -> None:
        self._address = address
        self._helper_user = helper_user
        self._helper_display = helper_display
        self._spawner = spawner
        self._scan_s = scan_s
        self._helper_wait_s = helper_wait_s
        self._server: asyncio.AbstractServer | None = None
        self._unavailable: str | None = None
        self._links: dict[str, HelperLink] = {}
        self._connected = asyncio.Condition()
        self._sessions: list[Session] = []
        self._sessions_at = -1e9
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scanner: asyncio.Task[None] | None = None
        self.on_screen: Callable[[dict[str, Any]], None] | None = None  # live-view frames from helpers

    @property
    def sessions_served(self) -> dict[str, str]:
        return {session_id: link.session.user for session_id, link in self._links.items()}

    async def start(self) -> None:
        """Listen for helpers. A socket that cannot be opened leaves user jobs failing with the reason."""
        try:
            await asyncio.to_thread(local_ipc.prepare_address, self._address)
            self._server = await asyncio.start_unix_server(self._accept, path=self._address)
            if not self._address.startswith("\0"):
                await asyncio.to_thread(os.chmod, self._address, 0o666)  # peer credentials decide, not modes
        except OSError as exc:
            self._unavailable = (
                f"the helper socket {local_ipc.describe(self._address)} cannot be opened: {exc}"
            )
            log.error("user-session helpers are unavailable", extra=kv(error=self._unavailable))
            return
        log.info("listening for user-session helpers", extra=kv(address=local_ipc.describe(self._address)))
        if self._scan_s > 0:
            self._scanner = asyncio.create_task(self._scan(), name="sessions-scan")

    async def stop(self) -> None:
        if self._scanner is not None:
            self._scanner.cancel()
            await asyncio.gather(self._scanner, return_exceptions=True)
        if self._server is not None:
            self._server.close()
        for link in list(self._links.values()):
            await link.close()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._spawner is not None:
            await self._spawner.stop()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    def _from_helper(self, frame: dict[str, Any]) -> None:
        if self.on_screen is not None:
            self.on_screen(frame)

    async def link_for_user(self) -> HelperLink:
        """The helper of the session user jobs (and live view) go to; `NoUserSession` says why none."""
        return (await self.role_for("screen"))._link

    async def role_for(self, name: str) -> UserSessionRole:
        """Where a `run_as: user` job runs now; `NoUserSession` says why it cannot run anywhere."""
        if self._unavailable is not None:
            raise NoUserSession(self._unavailable)
        session = pick_for_user_jobs(await self._current_sessions(max_age_s=SESSIONS_MAX_AGE_S))
        if session is None:
            raise NoUserSession(
                "no user is logged in: no active login session was found (loginctl, utmp) "
                "and agent.toml names no helper_user"
            )
        link = self._links.get(session.id)
        if link is None:
            if self._spawner is not None:
                await self._spawner.ensure(session)
            link = await self._wait_for_helper(session.id)
        if link is None:
            raise NoUserSession(
                f"no user-session helper connected for {session.user}'s session {session.id} "
                f"within {self._helper_wait_s:g} s (see Logs/Agent/helper-{session.user}.log)"
            )
        return UserSessionRole(name, link)

    async def _wait_for_helper(self, session_id: str) -> HelperLink | None:
        async with self._connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._connected.wait_for(lambda: session_id in self._links), self._helper_wait_s
                )
            return self._links.get(session_id)

    async def _current_sessions(self, max_age_s: float) -> list[Session]:
        if time.monotonic() - self._sessions_at > max_age_s:
            self._sessions = await login_sessions(self._helper_user, self._helper_display)
            self._sessions_at = time.monotonic()
        return self._sessions

    async def _scan(self) -> None:
        """Start helpers for sessions that have none; stop those whose session ended."""
        while True:
            try:
                sessions = await self._current_sessions(max_age_s=0)
                if self._spawner is not None:
                    for session in sessions:
                        if session.active and session.id not in self._links:
                            await self._spawner.ensure(session)
                    await self._spawner.retire({s.id for s in sessions})
            except Exception:
                log.exception("scanning login sessions failed")
            await asyncio.sleep(self._scan_s)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            link = await self._admit(reader, writer)
            if link is None:
                return
            try:
                await link.serve()
            finally:
                if self._links.get(link.session.id) is link:
                    del self._links[link.session.id]
                log.info("helper disconnected", extra=kv(session=link.session.id, user=link.session.user))
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _admit(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> HelperLink | None:
        try:
            peer = local_ipc.writer_credentials(writer)
            hello = await asyncio.wait_for(local_ipc.read_frame(reader), HELLO_TIMEOUT_S)
            if hello is None or hello.get("t") != IpcType.HELLO:
                raise _Refused("expected a hello frame")
            session = await self._claim(hello.get("session"), peer.uid)
            link = HelperLink(session, peer.pid, reader, writer, self._from_helper)
            async with self._connected:
                if session.id in self._links:  # another helper won the race while we looked
                    raise _Refused(f"a helper is already connected for session {session.id}")
                self._links[session.id] = link
                self._connected.notify_all()
        except (_Refused, ProtocolError, TimeoutError, OSError, ConnectionError) as exc:
            reason = str(exc) or "no hello in time"
            log.warning("helper refused", extra=kv(reason=reason))
            with contextlib.suppress(OSError, ConnectionError, ProtocolError):
                await local_ipc.send_frame(writer, {"t": IpcType.REFUSED.value, "reason": reason})
            await local_ipc.close_quietly(writer)
            return None
        try:
            await local_ipc.send_frame(writer, {"t": IpcType.WELCOME.value})
        except (OSError, ConnectionError):
            del self._links[session.id]
            return None
        log.info("helper connected", extra=kv(session=session.id, user=session.user, pid=peer.pid))
        return link

    async def _claim(self, session_id: object, uid: int) -> Session:
        if not isinstance(session_id, str) or not session_id or len(session_id) > MAX_SESSION_CHARS:
            raise _Refused("the hello names no session")
        if session_id in self._links:
            raise _Refused(f"a helper is already connected for session {session_id}")
        sessions = await self._current_sessions(max_age_s=SESSIONS_MAX_AGE_S)
        session = next((s for s in sessions if s.id == session_id), None)
        if session is None:  # a session that began a moment ago: look again before refusing
            sessions = await self._current_sessions(max_age_s=0)
            session = next((s for s in sessions if s.id == session_id), None)
        if session is None:
            raise _Refused(f"session {session_id} is not a current login session on this machine")
        if session.uid != uid:
            raise _Refused(f"session {session_id} belongs to uid {session.uid}; the helper runs as uid {uid}")
        return session
