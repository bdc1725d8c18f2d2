"""Unauthenticated input that reaches the log is bounded: hostile hellos to a real server's gateway
(900 KB fields, control characters) leave short log lines."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from borealis.core.logs import MAX_MESSAGE_CHARS, MAX_VALUE_CHARS
from tests.conftest import ServerProcess
from tests.server.fleet import ws_url

pytestmark = pytest.mark.slow

HUGE = "x" * 900_000


async def refused(server: ServerProcess, hello: dict[str, object]) -> int | None:
    async with connect(ws_url(server.url), open_timeout=5, close_timeout=2, max_size=None) as ws:
        await asyncio.wait_for(ws.recv(), 5)  # the challenge
        await ws.send(orjson.dumps(hello).decode())
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed:
            return ws.close_code


async def test_hostile_hellos_leave_short_log_lines(server: ServerProcess) -> None:
    hellos: list[dict[str, object]] = [
        {"t": HUGE},
        {"t": "hello", "protocol": HUGE},
        {"t": "hello", "protocol": 1, "agent_id": HUGE, "signature": "s"},
        {"t": "hello", "protocol": 1, "agent_id": "\x1b[31m" + "a" * 60, "signature": "s"},
    ]
    for hello in hellos:
        assert await refused(server, hello) is not None
    server.stop()
    lines = (server.home / "Logs" / "Server" / "server.log").read_text().splitlines()
    refusals = [line for line in lines if "agent refused" in line]
    assert len(refusals) == len(hellos)
    longest = max(len(line) for line in lines)
    assert longest < MAX_MESSAGE_CHARS + 8 * MAX_VALUE_CHARS, longest
    assert not any("\x1b" in line for line in lines)
