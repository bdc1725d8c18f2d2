"""The agent gateway: one WebSocket per device at /api/v1/agent/ws (DESIGN §6).

Handshake: the server signs a fresh nonce (`challenge`), the agent answers with its id and a signature
over that nonce (`hello`), the server checks it against the key stored at enrollment and answers
`welcome` or closes with a code and a reason. After that the hot path is one JSON decode and a dict
update per heartbeat; nothing touches the database. Job frames (`job.accepted`, `job.output`,
`job.result`) go to the job service, which stores results and answers `ack`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any, cast

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.endpoints import WebSocketEndpoint
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from borealis.core.errors import ProtocolError
from borealis.core.logs import kv
from borealis.core.text import without_control
from borealis.protocol import MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, keys, screen, screenshot
from borealis.protocol.frames import ChallengeFrame, HeartbeatFrame, WelcomeFrame
from borealis.protocol.json_bounds import JsonLimits, JsonOverLimits, check_json
from borealis.protocol.messages import (
    CloseCode,
    MessageType,
    challenge_payload,
    field_str,
    hello_payload,
    require,
)
from borealis.protocol.roles import STATUS as ROLE_STATUS
from borealis.server.agent_updates.rollouts import UPDATE_MESSAGES
from borealis.server.jobs.service import JOB_MESSAGES
from borealis.server.state import ServerState, state_of

log = logging.getLogger("borealis.server.gateway")
HELLO_TIMEOUT_S = 10.0
AGENT_ID = re.compile(r"[0-9a-f]{32}")
CLEAN_CLOSES = frozenset({CloseCode.NORMAL, CloseCode.GOING_AWAY})
# A frame's size is bounded by ws_max_bytes; its shape is checked too when it is large enough to matter
# (1 MiB of `[]` would be 350k lists). Values are not counted: job output is text full of commas.
CHECK_SHAPE_ABOVE = 64 * 1024
FRAME_LIMITS = JsonLimits(max_bytes=1 << 62, max_containers=100_000, max_values=1 << 62, max_depth=64)


def _closer(websocket: WebSocket) -> Any:
    async def close(code: int, reason: str) -> None:
        if websocket.application_state == WebSocketState.CONNECTED:
            # Starlette turns a send on a dead socket into WebSocketDisconnect: closing one is a no-op.
            with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
                await websocket.close(code, reason)

    return close


class AgentGateway(WebSocketEndpoint):
    async def dispatch(self) -> None:
        websocket = WebSocket(self.scope, receive=self.receive, send=self.send)
        state = state_of(websocket)
        await websocket.accept()
        try:
            agent_id = await self._handshake(websocket, state)
        except ProtocolError as refused:
            state.metrics.refusals[refused.close_code] += 1
            log.info("agent refused", extra=kv(code=refused.close_code, reason=refused.detail))
            await _closer(websocket)(refused.close_code, refused.detail[:120])
            return
        except (WebSocketDisconnect, TimeoutError, OSError):
            return
        closer = _closer(websocket)
        replaced = state.presence.connected(agent_id, closer)
        if replaced is not None:
            await replaced(CloseCode.REPLACED, "replaced by a newer connection")
        state.metrics.connects += 1
        log.info("agent connected", extra=kv(agent_id=agent_id))
        close_code = int(CloseCode.GOING_AWAY)
        try:
            # Inside the try: an agent that gave up waiting (reconnect storms) is gone by now, and its
            # presence entry must still be released rather than left behind by an unhandled error.
            welcome: WelcomeFrame = {
                "t": MessageType.WELCOME,
                "heartbeat_s": state.settings.heartbeat_s,
                "config": {},
            }
            await websocket.send_text(orjson.dumps(welcome).decode())
            state.presence.welcomed(agent_id, closer, websocket.send_text)
            state.jobs.agent_connected(agent_id)  # what waited for this agent goes out now
            state.role_modules.agent_connected(agent_id)
            state.updates.rollouts.agent_connected(agent_id)  # its new version may end an update
            close_code = await self._serve(websocket, state, agent_id)
        except WebSocketDisconnect as gone:
            close_code = gone.code
        finally:
            clean = close_code in CLEAN_CLOSES
            state.presence.disconnected(agent_id, closer, clean=clean)
            log.info("agent disconnected", extra=kv(agent_id=agent_id, code=close_code, clean=clean))

    async def _handshake(self, websocket: WebSocket, state: ServerState) -> str:
        nonce = keys.random_token(24)
        now = round(time.time(), 3)
        signature = keys.sign(state.key, challenge_payload(nonce, now, PROTOCOL_VERSION))
        challenge: ChallengeFrame = {
            "t": MessageType.CHALLENGE,
            "nonce": nonce,
            "server_time": now,
            "protocol": PROTOCOL_VERSION,
            "signature": signature,
        }
        await websocket.send_text(orjson.dumps(challenge).decode())
        message = await asyncio.wait_for(websocket.receive(), HELLO_TIMEOUT_S)
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(int(message.get("code") or CloseCode.NORMAL))
        try:
            hello = require(
                orjson.loads(message.get("text") or message.get("bytes") or b""), MessageType.HELLO
            )
        except orjson.JSONDecodeError as exc:
            raise ProtocolError("hello is not JSON", close_code=CloseCode.BAD_HELLO) from exc
        protocol = hello.get("protocol", 0)
        if not isinstance(protocol, int) or protocol < MIN_PROTOCOL_VERSION:
            raise ProtocolError(
                f"protocol {str(protocol)[:16]} is too old; this server needs {MIN_PROTOCOL_VERSION}+",
                close_code=CloseCode.PROTOCOL_TOO_OLD,
            )
        agent_id = field_str(hello, "agent_id", 64)
        proof = field_str(hello, "signature", 200)
        if not AGENT_ID.fullmatch(agent_id):  # ids are ours; anything else is not worth a query
            raise ProtocolError("unknown agent", close_code=CloseCode.UNKNOWN_AGENT)
        trust = await state.agent_keys.lookup(agent_id)
        if trust is None:
            raise ProtocolError("unknown agent", close_code=CloseCode.UNKNOWN_AGENT)
        public_key = Ed25519PublicKey.from_public_bytes(trust.public_key)
        if not keys.verify(public_key, hello_payload(nonce, agent_id), proof):
            raise ProtocolError("signature does not verify", close_code=CloseCode.UNKNOWN_AGENT)
        if trust.state == "revoked":
            raise ProtocolError("agent revoked", close_code=CloseCode.REVOKED)
        if trust.state == "pending":
            raise ProtocolError("waiting for an operator's approval", close_code=CloseCode.PENDING_APPROVAL)
        version = without_control(str(hello.get("version", "")), 32)
        if version and version != trust.version:
            await state.agent_keys.record_version(agent_id, version)
        return agent_id

    async def _serve(self, websocket: WebSocket, state: ServerState, agent_id: str) -> int:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return int(message.get("code") or CloseCode.NORMAL)
            data = message.get("text") or message.get("bytes")
            try:
                frame = _frame_of(data, agent_id)
            except JsonOverLimits as refused:
                await _closer(websocket)(refused.close_code, refused.detail[:120])
                return refused.close_code
            if frame is None:
                await _closer(websocket)(CloseCode.POLICY, "frames must be JSON objects")
                continue
            closed = await _dispatch(websocket, state, agent_id, frame)
            if closed is not None:
                return closed


def _frame_of(data: str | bytes | None, agent_id: str) -> dict[str, Any] | None:
    """The frame as a dict, None when it is not a JSON object; a large one's shape is checked first
    (raises `JsonOverLimits`)."""
    if data and len(data) > CHECK_SHAPE_ABOVE:
        try:
            check_json(data.encode() if isinstance(data, str) else data, FRAME_LIMITS)
        except JsonOverLimits as refused:
            log.warning("frame over the limits", extra=kv(agent_id=agent_id, reason=refused.detail))
            raise
    try:
        frame = orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return None
    return frame if isinstance(frame, dict) else None


async def _dispatch(
    websocket: WebSocket, state: ServerState, agent_id: str, frame: dict[str, Any]
) -> int | None:
    """Hands a frame to the service that owns its type; the close code when that closed the socket."""
    kind = frame.get("t")
    reply = websocket.send_text
    if kind == MessageType.HEARTBEAT:
        _heartbeat(state, agent_id, cast(HeartbeatFrame, frame))
    elif kind in JOB_MESSAGES:
        await state.jobs.on_frame(agent_id, frame, reply)
    elif kind == MessageType.INVENTORY:  # before a refresh's job.result: frames keep their order
        try:
            await state.inventory.on_frame(agent_id, frame, reply)
        except ProtocolError as refused:  # past the protocol's limits: no honest agent sends that
            await _closer(websocket)(refused.close_code, refused.detail[:120])
            return refused.close_code
    elif kind in screen.AGENT_TO_SERVER:
        await state.live_views.on_frame(agent_id, frame, reply)
    elif kind == screenshot.JOB_BLOB:
        await state.screenshots.on_frame(agent_id, frame, reply)
    elif kind == ROLE_STATUS:
        state.role_modules.on_status(agent_id, frame)
    elif kind in UPDATE_MESSAGES:
        await state.updates.rollouts.on_frame(agent_id, frame, reply)
    else:
        log.debug("ignored message", extra=kv(agent_id=agent_id, t=str(kind)[:32]))
    return None


def _heartbeat(state: ServerState, agent_id: str, frame: HeartbeatFrame) -> None:
    state.metrics.heartbeats += 1
    rss_bytes, cpu_pct = _int(frame.get("rss_bytes")), _float(frame.get("cpu_pct"))
    state.presence.heartbeat(agent_id, _int(frame.get("seq")), rss_bytes, cpu_pct)
    state.heartbeats.record(agent_id, cpu_pct, rss_bytes)
    roles = frame.get("roles_health")
    if roles and isinstance(roles, dict):
        state.jobs.note_reported_roles(roles)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
