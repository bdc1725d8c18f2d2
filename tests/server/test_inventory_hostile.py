"""A compromised agent's inventory frames against a real server: a small frame that inflates to
millions of JSON values, or nests deep, is refused before it is parsed, off the event loop, and the
agent is disconnected; the server's memory and its other requests do not notice."""

from __future__ import annotations

import asyncio
import base64
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from borealis.protocol.messages import CloseCode
from tests.conftest import ServerProcess, running_server
from tests.server.fleet import Session, enrolled_agent, open_session

pytestmark = pytest.mark.slow


@pytest.fixture
def inv_server(tmp_path: Path, db_url: str) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "server-home", db_url) as process:
        yield process


@pytest.fixture
async def api(inv_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {inv_server.token}"}
    async with httpx.AsyncClient(base_url=inv_server.url, headers=headers, timeout=30) as client:
        yield client
    log = inv_server.log_path.read_text(errors="replace")
    assert "Traceback" not in log and "level=error" not in log, log[-3000:]


async def online(server: ServerProcess, api: httpx.AsyncClient, hostname: str) -> tuple[str, Session]:
    agent = await enrolled_agent(api, {}, hostname=hostname)
    session = await open_session(server.url, agent)
    assert session.welcome is not None
    return agent.agent_id, session


def zipped_section(raw: bytes) -> dict[str, Any]:
    packed = base64.b64encode(zlib.compress(raw, 9)).decode("ascii")
    return {
        "hash": "0" * 64,
        "collected_at": time.time(),
        "duration_ms": 1,
        "error": None,
        "data_zb64": packed,
    }


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def slowest_health_check(url: str, until: asyncio.Future[Any]) -> float:
    slowest = 0.0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while not until.done():
            started = time.monotonic()
            assert (await client.get("/healthz")).status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            await asyncio.sleep(0.02)
    return slowest


async def test_an_inflating_frame_is_refused_before_parsing_and_the_agent_disconnected(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent_id, session = await online(inv_server, api, "evil-1")
    bomb = b"[" + b",".join([b"[]"] * 5_000_000) + b"]"  # 15 MB of empty lists
    frame = {"t": "inventory", "msg_id": "bomb-1", "sections": {"software": zipped_section(bomb)}}
    assert len(frame["sections"]["software"]["data_zb64"]) < 100_000
    assert inv_server.proc is not None
    before = rss_bytes(inv_server.proc.pid)
    await session.send(frame)
    closed = asyncio.ensure_future(session.closed_by_server(timeout=20))
    slowest = await slowest_health_check(inv_server.url, closed)
    code, reason = await closed
    assert code == CloseCode.TOO_BIG, (code, reason)
    assert "objects and arrays" in reason
    grown = rss_bytes(inv_server.proc.pid) - before
    assert grown < 64 * 1024 * 1024, f"the server grew by {grown / 1e6:.0f} MB"
    assert slowest < 1.0, f"/healthz took {slowest:.2f}s while the frame was checked"
    stored = (await api.get(f"/api/v1/agents/{agent_id}/inventory")).json()["sections"]
    assert stored == {}
    deadline = time.monotonic() + 10  # an unclean close: offline once the presence window passes
    while (await api.get(f"/api/v1/agents/{agent_id}")).json()["status"] != "offline":
        assert time.monotonic() < deadline, "the agent still looks online"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"[" * 40 + b"]" * 40, "nested deeper"),
        (b"[" + b",".join([b'"a"'] * 1_100_000) + b"]", "values"),
        (b'["' + b"x" * (17 * 1024 * 1024) + b'"]', "inflates past"),
    ],
    ids=["deep", "wide", "large"],
)
async def test_frames_past_each_limit_disconnect_the_agent(
    inv_server: ServerProcess, api: httpx.AsyncClient, raw: bytes, why: str
) -> None:
    _, session = await online(inv_server, api, "evil-2")
    await session.send({"t": "inventory", "msg_id": "m-1", "sections": {"processes": zipped_section(raw)}})
    code, reason = await session.closed_by_server(timeout=20)
    assert code == CloseCode.TOO_BIG and why in reason, (code, reason)


async def test_a_large_plain_frame_of_brackets_is_refused_by_the_gateway(
    inv_server: ServerProcess, api: httpx.AsyncClient
) -> None:
    _, session = await online(inv_server, api, "evil-3")
    await session.send({"t": "heartbeat", "seq": 1, "junk": [[] for _ in range(200_000)]})
    code, reason = await session.closed_by_server(timeout=20)
    assert code == CloseCode.TOO_BIG and "objects and arrays" in reason, (code, reason)
