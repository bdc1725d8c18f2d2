"""One WebSocket session with the server: challenge → hello → welcome, then heartbeats until it ends.

The agent trusts nothing before the server has signed the challenge with the key pinned at
enrollment; a session ends by the server closing it, the network dropping it, or `stop` being set,
in which case the agent closes with 1000 "agent stopping" so the server marks it offline at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from borealis import __version__
from borealis.agent.clock import utc_now_iso
from borealis.agent.identity import Identity
from borealis.agent.link.heartbeat import HeartbeatSource, jittered
from borealis.agent.link.inbox import Inbox
from borealis.agent.link.reconnect import ABNORMAL_CLOSURE, SessionOutcome
from borealis.agent.link.uplink import Uplink
from borealis.agent.service.status_file import ConnectionState, StatusPublisher
from borealis.core import codec
from borealis.core.errors import InvalidInput, ProtocolError
from borealis.core.logs import kv
from borealis.protocol import PROTOCOL_VERSION, keys
from borealis.protocol.messages import (
    AGENT_WS_PATH,
    MessageType,
    challenge_payload,
    field_str,
    hello_payload,
    require,
)

MAX_MESSAGE_BYTES = 1024 * 1024
OPEN_TIMEOUT_S = 10.0
HANDSHAKE_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 3.0
MIN_HEARTBEAT_S = 0.2
MAX_HEARTBEAT_S = 3600.0
DEFAULT_HEARTBEAT_S = 30.0
STOP_CODE = 1000
STOP_REASON = "agent stopping"
KEY_MISMATCH_CODE = 1008

log = logging.getLogger("borealis.agent.link.connection")


class ServerKeyMismatch(ProtocolError):
    """The challenge was not signed by the pinned server key: not our server, or not any more."""


def websocket_url(server_url: str) -> str:
    base = server_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + AGENT_WS_PATH
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + AGENT_WS_PATH
    raise InvalidInput(f"server URL must start with http:// or https://, not {server_url!r}")


class Connection:
    """Runs sessions for one identity; `run()` is one attempt and returns how it ended."""

    def __init__(
        self,
        identity: Identity,
        key: Ed25519PrivateKey,
        server_key: Ed25519PublicKey,
        facts: dict[str, str],
        heartbeats: HeartbeatSource,
        status: StatusPublisher,
        rng: random.Random | None = None,
        inbox: Inbox | None = None,
        uplink: Uplink | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._tls = tls
        self._identity = identity
        self._key = key
        self._server_key = server_key
        self._facts = facts
        self._heartbeats = heartbeats
        self._status = status
        self._rng = rng or random.Random()
        self._inbox = inbox
        self._uplink = uplink
        self._url = websocket_url(identity.server_url)
        self._fields = {"agent_id": identity.agent_id}

    async def run(self, stop: asyncio.Event) -> SessionOutcome:
        welcomed_at: float | None = None
        try:
            async with connect(
                self._url,
                max_size=MAX_MESSAGE_BYTES,
                compression=None,
                ping_interval=None,
                open_timeout=OPEN_TIMEOUT_S,
                close_timeout=CLOSE_TIMEOUT_S,
                user_agent_header=f"borealis-agent/{__version__}",
                **self._ssl_option(),
            ) as ws:
                heartbeat_s = await self._handshake(ws)
                welcomed_at = time.monotonic()
                self._status.set(
                    state=ConnectionState.CONNECTED,
                    connected_since=utc_now_iso(),
                    last_close_code=None,
                    last_close_reason=None,
                    last_error=None,
                )
                log.info("connected", extra=kv(**self._fields, url=self._url, heartbeat_s=heartbeat_s))
                await self._serve(ws, heartbeat_s, stop)
                if stop.is_set():
                    await ws.close(STOP_CODE, STOP_REASON)
                return self._outcome(ws.close_code, ws.close_reason or "", None, welcomed_at)
        except ServerKeyMismatch as exc:
            log.error("server key mismatch", extra=kv(**self._fields, url=self._url, detail=exc.detail))
            return SessionOutcome(error=exc.detail, key_mismatch=True)
        except ConnectionClosed as exc:
            frame = exc.rcvd
            code = frame.code if frame is not None else ABNORMAL_CLOSURE
            return self._outcome(code, frame.reason if frame is not None else "", None, welcomed_at)
        except (ProtocolError, InvalidInput) as exc:
            return self._outcome(None, "", f"protocol error: {exc.detail}", welcomed_at)
        except TimeoutError:
            return self._outcome(None, "", "the server did not complete the handshake in time", welcomed_at)
        except InvalidURI as exc:
            return self._outcome(None, "", f"bad server URL: {exc}", welcomed_at)
        except InvalidHandshake as exc:
            return self._outcome(None, "", f"WebSocket handshake failed: {exc}", welcomed_at)
        except OSError as exc:
            return self._outcome(None, "", f"cannot connect: {exc.strerror or exc}", welcomed_at)

    def _ssl_option(self) -> dict[str, Any]:
        """`ssl=` for wss:// with a pinned certificate; nothing otherwise (the library's default)."""
        return {"ssl": self._tls} if self._tls is not None else {}

    async def _handshake(self, ws: ClientConnection) -> float:
        challenge = require(await self._receive(ws), MessageType.CHALLENGE)
        nonce = field_str(challenge, "nonce")
        signature = field_str(challenge, "signature")
        server_time, protocol = _number(challenge.get("server_time")), challenge.get("protocol")
        if server_time is None or not isinstance(protocol, int) or isinstance(protocol, bool):
            raise ProtocolError("challenge lacks server_time or protocol")
        payload = challenge_payload(nonce, server_time, protocol)
        if not keys.verify(self._server_key, payload, signature):
            with contextlib.suppress(ConnectionClosed):
                await ws.close(KEY_MISMATCH_CODE, "server key mismatch")
            raise ServerKeyMismatch("the challenge is not signed by the server key pinned at enrollment")
        hello = {
            "t": MessageType.HELLO.value,
            "agent_id": self._identity.agent_id,
            "signature": keys.sign(self._key, hello_payload(nonce, self._identity.agent_id)),
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "facts": self._facts,
        }
        await ws.send(codec.dumps(hello))
        welcome = require(await self._receive(ws), MessageType.WELCOME)
        heartbeat = _number(welcome.get("heartbeat_s"))
        if heartbeat is None:
            return DEFAULT_HEARTBEAT_S
        return min(MAX_HEARTBEAT_S, max(MIN_HEARTBEAT_S, heartbeat))

    async def _receive(self, ws: ClientConnection) -> Any:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
            return codec.loads(await ws.recv())

    async def _serve(self, ws: ClientConnection, heartbeat_s: float, stop: asyncio.Event) -> None:
        """Heartbeats and incoming messages until the connection ends or `stop` is set."""
        tasks = {
            asyncio.create_task(self._beat(ws, heartbeat_s), name="heartbeat"),
            asyncio.create_task(self._dispatch(ws), name="receive"),
            asyncio.create_task(stop.wait(), name="stop"),
        }
        if self._uplink is not None:
            tasks.add(asyncio.create_task(self._uplink.serve(ws.send), name="uplink"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = None if task.cancelled() else task.exception()
                if error is not None and not isinstance(error, ConnectionClosed):
                    log.error(
                        "connection task failed",
                        extra=kv(**self._fields, task=task.get_name(), error=repr(error)),
                    )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _beat(self, ws: ClientConnection, heartbeat_s: float) -> None:
        while True:
            await ws.send(codec.dumps(self._heartbeats.next_message()))
            await asyncio.sleep(jittered(heartbeat_s, self._rng))

    async def _dispatch(self, ws: ClientConnection) -> None:
        """Read messages until the connection closes and hand them to the inbox."""
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                try:
                    message = codec.loads(raw)
                except InvalidInput:
                    log.warning("ignored a frame that is not JSON", extra=kv(**self._fields))
                    continue
                if not isinstance(message, dict):
                    log.warning("ignored a frame that is not an object", extra=kv(**self._fields))
                elif self._inbox is not None:
                    self._inbox.received(message)
                else:
                    log.debug("ignored message", extra=kv(**self._fields, t=message.get("t")))

    def _outcome(
        self, code: int | None, reason: str, error: str | None, welcomed_at: float | None
    ) -> SessionOutcome:
        return SessionOutcome(
            close_code=code,
            close_reason=reason,
            error=error,
            welcomed=welcomed_at is not None,
            connected_for_s=0.0 if welcomed_at is None else time.monotonic() - welcomed_at,
        )


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
