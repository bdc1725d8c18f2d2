"""Live view on the agent (docs/screen.md): `screen.*` frames between the server and the helper of the
user's session. The agent only relays: the helper captures, with the user's own rights.

Refused (answered `screen.ended` with the reason) when agent.toml's `live_view` is off, when the agent
requires operator co-signatures (a server alone must not be able to watch it), or when no user session
has a helper.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from borealis.agent.link.inbox import Inbox
from borealis.agent.link.uplink import Uplink
from borealis.agent.operator_policy import OperatorPolicy
from borealis.agent.user_session.helper_hub import HelperHub, NoUserSession
from borealis.agent.user_session.helper_link import HelperLink
from borealis.core.logs import kv
from borealis.protocol import screen

MAX_STREAMS = 2
NOTICE = "Borealis: an operator is viewing this screen"

log = logging.getLogger("borealis.agent.screen")


class LiveView:
    def __init__(
        self,
        hub: HelperHub | None,
        uplink: Uplink,
        policy: OperatorPolicy,
        *,
        enabled: bool,
        control: bool = False,
        notice: bool = False,
    ) -> None:
        self._hub = hub
        self._uplink = uplink
        self._policy = policy
        self._enabled = enabled
        self._control = control
        self._notice = notice
        self._links: dict[str, HelperLink] = {}
        if hub is not None:
            hub.on_screen = self._from_helper

    def listen(self, inbox: Inbox) -> None:
        """Take the `screen.*` frames the server sends from the inbox."""
        for kind in screen.SERVER_TO_AGENT:
            inbox.route_task(kind, self.on_frame)

    async def on_frame(self, frame: dict[str, Any]) -> None:
        """A `screen.*` frame from the server."""
        kind, stream_id = frame.get("t"), frame.get("stream_id")
        if not isinstance(stream_id, str) or not screen.STREAM_ID.fullmatch(stream_id):
            return
        if kind == screen.START:
            await self._start(stream_id, frame)
            return
        link = self._links.get(stream_id)
        if kind == screen.INPUT:
            await self._input(stream_id, link, frame)
            return
        if link is None:
            return
        if kind == screen.STOP:
            del self._links[stream_id]
            log.info("live view stopped", extra=kv(stream_id=stream_id))
        with contextlib.suppress(OSError, ConnectionError):
            await link.send({"t": kind, "stream_id": stream_id, "quality": frame.get("quality")})

    async def _input(self, stream_id: str, link: HelperLink | None, frame: dict[str, Any]) -> None:
        reason = None
        if not self._control:
            reason = "remote control is off on this agent (remote_control in agent.toml)"
        elif self._policy.required:
            reason = "this agent runs only what operators co-sign: remote control is refused"
        elif link is None:
            reason = "no such live view on this agent"
        if reason is None and link is not None:
            try:
                await link.send(
                    {
                        "t": screen.INPUT,
                        "stream_id": stream_id,
                        "seq": frame.get("seq"),
                        "events": frame.get("events"),
                    }
                )
                return
            except (OSError, ConnectionError):
                reason = "the user-session helper disconnected"
        log.warning("remote control refused", extra=kv(stream_id=stream_id, reason=reason))
        self._uplink.send_output(
            {
                "t": screen.INPUT_RESULT,
                "stream_id": stream_id,
                "seq": frame.get("seq"),
                "ok": False,
                "reason": reason,
                "policy": not self._control or self._policy.required,
            }
        )

    async def _start(self, stream_id: str, frame: dict[str, Any]) -> None:
        reason = None
        if not self._enabled:
            reason = "live view is turned off on this agent (live_view in agent.toml)"
        elif self._policy.required:
            reason = "this agent runs only what operators co-sign: live view needs no co-signature, so it is refused"
        elif self._hub is None:
            reason = "this agent has no user-session helpers on this platform"
        elif len(self._links) >= MAX_STREAMS:
            reason = f"this agent already streams {MAX_STREAMS} live views"
        if reason is None and self._hub is not None:
            try:
                link = await self._hub.link_for_user()
                await link.send(
                    {
                        "t": screen.START,
                        "stream_id": stream_id,
                        "fps": frame.get("fps"),
                        "quality": frame.get("quality"),
                        "max_width": frame.get("max_width"),
                        "notice": NOTICE if self._notice else "",
                    }
                )
                self._links[stream_id] = link
                log.info("live view started", extra=kv(stream_id=stream_id, user=link.session.user))
                return
            except NoUserSession as exc:
                reason = str(exc)
            except (OSError, ConnectionError):
                reason = "the user-session helper disconnected"
        log.warning("live view refused", extra=kv(stream_id=stream_id, reason=reason))
        self._uplink.send_live({"t": screen.ENDED, "stream_id": stream_id, "reason": reason})

    def _from_helper(self, frame: dict[str, Any]) -> None:
        stream_id = frame.get("stream_id")
        if not isinstance(stream_id, str) or stream_id not in self._links:
            return
        if frame.get("t") == screen.INPUT_RESULT:
            self._uplink.send_output(frame)
            return
        if frame.get("t") == screen.ENDED:
            self._links.pop(stream_id, None)
        self._uplink.send_live(frame)
