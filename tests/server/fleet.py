"""Test doubles on the agent's side of the wire: enroll through the API and speak the gateway handshake.

Small on purpose: real keys, real HTTP, a real WebSocket; only what a test needs to drive the server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from borealis.protocol import PROTOCOL_VERSION, keys
from borealis.protocol.install_code import InstallCode
from borealis.protocol.jobs import job_payload
from borealis.protocol.messages import AGENT_WS_PATH, challenge_payload, hello_payload


async def new_install_code(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    """POST /api/v1/enrollments; returns the row with its `install_code` and decoded `secret`."""
    response = await client.post("/api/v1/enrollments", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    body["secret"] = InstallCode.decode(body["install_code"]).secret
    return body


async def enroll(
    client: httpx.AsyncClient,
    secret: str,
    key: Ed25519PrivateKey | None = None,
    hostname: str = "host-1",
    **extra: Any,
) -> httpx.Response:
    body = {
        "secret": secret,
        "public_key": keys.public_b64(key or keys.generate()),
        "hostname": hostname,
        "facts": {"os": "linux", "version": "0.1.0"},
        **extra,
    }
    return await client.post("/api/v1/enroll", json=body)


@dataclass
class EnrolledAgent:
    agent_id: str
    key: Ed25519PrivateKey
    server_public_key: str
    hostname: str = ""


async def enrolled_agent(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    hostname: str = "host-1",
    approval_required: bool = False,
    tags: tuple[str, ...] = (),
) -> EnrolledAgent:
    code = await new_install_code(client, headers, approval_required=approval_required, tags=list(tags))
    key = keys.generate()
    response = await enroll(client, code["secret"], key, hostname=hostname)
    assert response.status_code == 201, response.text
    body = response.json()
    return EnrolledAgent(body["agent_id"], key, body["server_public_key"], hostname)


def proper_hello(agent: EnrolledAgent, challenge: dict[str, Any]) -> dict[str, Any]:
    return {
        "t": "hello",
        "agent_id": agent.agent_id,
        "signature": keys.sign(agent.key, hello_payload(challenge["nonce"], agent.agent_id)),
        "version": "0.1.0",
        "protocol": PROTOCOL_VERSION,
        "facts": {},
    }


@dataclass
class Session:
    """One gateway connection as the test sees it: the challenge, and either welcome or a close."""

    ws: ClientConnection
    challenge: dict[str, Any]
    hello: dict[str, Any]
    welcome: dict[str, Any] | None = None
    close_code: int | None = None
    close_reason: str = ""
    beats: int = 0
    inbox: list[dict[str, Any]] = field(default_factory=list)
    _beating: asyncio.Task[None] | None = field(default=None, repr=False)

    async def heartbeat(self, rss_bytes: int = 50_000_000) -> None:
        self.beats += 1
        frame = {"t": "heartbeat", "seq": self.beats, "uptime_s": 1, "rss_bytes": rss_bytes, "cpu_pct": 1.5}
        await self.ws.send(orjson.dumps({**frame, "roles_health": {}, "sessions": []}).decode())

    def keep_beating(self, every_s: float = 0.3) -> None:
        async def beat() -> None:
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await self.heartbeat()
                    await asyncio.sleep(every_s)

        self._beating = asyncio.create_task(beat())

    async def stop_beating(self) -> None:
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
            self._beating = None

    async def closed_by_server(self, timeout: float = 5.0) -> tuple[int | None, str]:
        """Read until the server closes the socket; returns its close code and reason."""
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        await self.stop_beating()
        self.close_code, self.close_reason = self.ws.close_code, self.ws.close_reason or ""
        return self.close_code, self.close_reason

    async def close(self, code: int = 1000) -> None:
        await self.stop_beating()
        await self.ws.close(code, "test done")

    # Jobs: what an agent does with them, driven step by step by the test.

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def receive(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame of type `kind`; frames of other types are kept for later calls."""
        for index, frame in enumerate(self.inbox):
            if frame.get("t") == kind:
                return self.inbox.pop(index)
        async with asyncio.timeout(timeout):
            while True:
                frame = orjson.loads(await self.ws.recv())
                if frame.get("t") == kind:
                    return dict(frame)
                self.inbox.append(frame)

    async def nothing_of(self, kind: str, wait_s: float = 0.5) -> bool:
        """True when no frame of type `kind` arrives within `wait_s`."""
        try:
            frame = await self.receive(kind, wait_s)
        except TimeoutError:
            return True
        self.inbox.append(frame)
        return False

    async def accept(self, job_id: str, msg_id: str | None = None) -> None:
        await self.send({"t": "job.accepted", "msg_id": msg_id or f"acc-{job_id}", "job_id": job_id})

    async def output(self, job_id: str, chunk: str, stream: str = "stdout", seq: int = 0) -> None:
        await self.send({"t": "job.output", "job_id": job_id, "stream": stream, "chunk": chunk, "seq": seq})

    async def result(self, job_id: str, status: str, exit_code: int | None = 0, **extra: Any) -> str:
        """Send a `job.result`; returns its msg_id (the server acks it)."""
        msg_id = str(extra.pop("msg_id", f"res-{job_id}"))
        frame = {
            "t": "job.result",
            "msg_id": msg_id,
            "job_id": job_id,
            "status": status,
            "exit_code": exit_code,
            "started_at": 1_700_000_000.0,
            "finished_at": 1_700_000_001.5,
            "stdout_tail": "",
            "stderr_tail": "",
            "data": None,
            "error": None,
            **extra,
        }
        await self.send(frame)
        return msg_id


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1).rstrip("/") + AGENT_WS_PATH


async def open_session(
    base_url: str,
    agent: EnrolledAgent,
    hello_for: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Session:
    """Connect, read the challenge, send `hello_for(challenge)`, and wait for welcome or a close."""
    ws = await connect(ws_url(base_url), open_timeout=5, close_timeout=2)
    challenge = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
    hello = (hello_for or (lambda c: proper_hello(agent, c)))(challenge)
    await ws.send(orjson.dumps(hello).decode())
    session = Session(ws=ws, challenge=challenge, hello=hello)
    try:
        session.welcome = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
    except ConnectionClosed:
        await session.closed_by_server()
    return session


def challenge_is_signed_by(challenge: dict[str, Any], server_public_key: str) -> bool:
    payload = challenge_payload(challenge["nonce"], challenge["server_time"], challenge["protocol"])
    return keys.verify(keys.public_from_b64(server_public_key), payload, challenge["signature"])


def job_is_signed_by(frame: dict[str, Any], server_public_key: str) -> bool:
    """Verify a `job` frame as an agent does: the server's signature over the signed fields."""
    return keys.verify(keys.public_from_b64(server_public_key), job_payload(frame), frame["signature"])
