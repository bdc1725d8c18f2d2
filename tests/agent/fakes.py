"""Seams for agent tests: an in-process stand-in for the server's gateway, and enrolled homes.

The fake gateway speaks the real protocol (real keys, real signatures, a real WebSocket on loopback)
but lets a test choose how the server behaves: welcome, refuse with a close code, or sign the
challenge with the wrong key.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from borealis.agent.credentials import save_credentials
from borealis.agent.identity import Identity
from borealis.core.home import Home
from borealis.core.ids import new_id
from borealis.core.settings import update_toml
from borealis.protocol import PROTOCOL_VERSION, keys
from borealis.protocol.jobs import job_payload
from borealis.protocol.messages import challenge_payload, hello_payload

FAST_AGENT_SETTINGS: dict[str, Any] = {
    "startup_delay_s": 0.0,
    "backoff_base_s": 0.2,
    "backoff_cap_s": 2.0,
    "hang_timeout_s": 3.0,
    "internal_heartbeat_s": 0.5,
    "stop_timeout_s": 5.0,
    "restart_backoff_cap_s": 2.0,
}


def enrolled_home(
    root: Path, server_url: str, server_key: Ed25519PrivateKey, agent_id: str = "agt_test", **settings: Any
) -> tuple[Home, Identity, Ed25519PrivateKey]:
    """A home that looks enrolled with `server_url`, with fast settings in agent.toml."""
    home = Home(root)
    key = keys.generate()
    identity = Identity(
        agent_id=agent_id,
        server_url=server_url,
        server_public_key=keys.public_b64(server_key),
        fingerprint=keys.fingerprint(server_key),
        enrolled_at="2026-01-01T00:00:00Z",
    )
    save_credentials(home, identity, key)
    update_toml(home.agent_toml, server_url=server_url, **{**FAST_AGENT_SETTINGS, **settings})
    return home, identity, key


@dataclass
class Session:
    agent_id: str = ""
    hello: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    ws: ServerConnection | None = None


@dataclass
class FakeGateway:
    """`refuse`: a close code sent after the hello; `sign_with`: a key other than the pinned one;
    `ack`: answer every message that has a `msg_id` with `{t: ack}` (as the real server does)."""

    key: Ed25519PrivateKey = field(default_factory=keys.generate)
    agent_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    heartbeat_s: float = 0.2
    refuse: tuple[int, str] | None = None
    sign_with: Ed25519PrivateKey | None = None
    extra_frames: list[str] = field(default_factory=list)
    ack: bool = True
    sessions: list[Session] = field(default_factory=list)
    attempts: list[float] = field(default_factory=list)
    _server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aenter__(self) -> FakeGateway:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None, ping_interval=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        self.attempts.append(time.monotonic())
        session = Session(ws=ws)
        self.sessions.append(session)
        nonce, now = keys.random_token(24), round(time.time(), 3)
        signer = self.sign_with or self.key
        challenge = {
            "t": "challenge",
            "nonce": nonce,
            "server_time": now,
            "protocol": PROTOCOL_VERSION,
            "signature": keys.sign(signer, challenge_payload(nonce, now, PROTOCOL_VERSION)),
        }
        try:
            await ws.send(orjson.dumps(challenge).decode())
            session.hello = orjson.loads(await ws.recv())
            session.agent_id = session.hello["agent_id"]
            agent_key = self.agent_keys.get(session.agent_id)
            proof_ok = agent_key is not None and keys.verify(
                agent_key.public_key(), hello_payload(nonce, session.agent_id), session.hello["signature"]
            )
            if not proof_ok:
                await ws.close(4401, "unknown agent")
                return
            if self.refuse is not None:
                await ws.close(*self.refuse)
                return
            await ws.send(
                orjson.dumps({"t": "welcome", "heartbeat_s": self.heartbeat_s, "config": {}}).decode()
            )
            for frame in self.extra_frames:
                await ws.send(frame)
            async for raw in ws:
                message = orjson.loads(raw)
                session.messages.append(message)
                if self.ack and isinstance(message.get("msg_id"), str):
                    await ws.send(orjson.dumps({"t": "ack", "msg_id": message["msg_id"]}).decode())
        except ConnectionClosed:
            pass
        finally:
            session.close_code = ws.close_code
            session.close_reason = ws.close_reason or ""

    def heartbeats(self) -> list[dict[str, Any]]:
        return self.received("heartbeat")

    def received(self, kind: str, job_id: str | None = None) -> list[dict[str, Any]]:
        """Every message of type `kind` the agent sent (in any session), optionally for one job."""
        return [
            m
            for s in self.sessions
            for m in s.messages
            if m.get("t") == kind and (job_id is None or m.get("job_id") == job_id)
        ]

    def results(self, job_id: str) -> list[dict[str, Any]]:
        return self.received("job.result", job_id)

    def job(
        self,
        agent_id: str,
        role: str = "script",
        params: dict[str, Any] | None = None,
        *,
        job_id: str | None = None,
        run_as: str = "system",
        timeout_s: float = 30,
        not_after: float | None = None,
        sign_with: Ed25519PrivateKey | None = None,
    ) -> dict[str, Any]:
        """A `job` frame signed like the server signs it (`sign_with` to sign with another key)."""
        frame: dict[str, Any] = {
            "t": "job",
            "job_id": job_id or new_id(),
            "agent_id": agent_id,
            "role": role,
            "params": params or {},
            "run_as": run_as,
            "timeout_s": timeout_s,
            "not_after": not_after if not_after is not None else time.time() + 300,
        }
        frame["signature"] = keys.sign(sign_with or self.key, job_payload(frame))
        return frame

    async def send(self, frame: dict[str, Any]) -> None:
        """Send a frame to the agent on the newest session."""
        ws = self.sessions[-1].ws
        assert ws is not None
        await ws.send(orjson.dumps(frame).decode())

    async def drop(self) -> None:
        """Cut the newest session without a close handshake, as a lost network would."""
        ws = self.sessions[-1].ws
        assert ws is not None
        ws.transport.abort()

    async def wait_welcomed(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` sessions have been welcomed (the agent sent a heartbeat on each)."""
        await self.wait_for(
            lambda: (
                sum(1 for s in self.sessions if any(m.get("t") == "heartbeat" for m in s.messages)) >= count
            ),
            timeout,
        )

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {predicate}")
            await asyncio.sleep(0.02)
