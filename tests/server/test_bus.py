"""The bus contract, run against the in-process bus and NATS alike (NATS from BOREALIS_TEST_NATS_URL)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from borealis.core.errors import ConfigError, TransientError
from borealis.server.bus import Bus, open_bus
from borealis.server.bus.nats_impl import NatsBus
from tests.conftest import NATS_URL
from tests.support import free_port

needs_nats = pytest.mark.skipif(not NATS_URL, reason="BOREALIS_TEST_NATS_URL is not set")


@pytest.fixture(params=["memory", pytest.param("nats", marks=needs_nats)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    opened = open_bus("memory://" if request.param == "memory" else NATS_URL)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def subject() -> str:
    """A subject of this test's own, so runs sharing one NATS server never hear each other."""
    return f"test.{uuid.uuid4().hex}"


class Inbox:
    def __init__(self, name: str = "") -> None:
        self.name = name
        self.messages: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.changed.set()

    async def holds(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.messages


async def test_every_subscriber_gets_every_message_in_order(bus: Bus, subject: str) -> None:
    first, second = Inbox(), Inbox()
    await bus.subscribe(subject, first)
    await bus.subscribe(subject, second)
    sent = [{"n": i, "text": "ünïcode ✓", "nested": {"list": [1, 2.5, None, True]}} for i in range(20)]
    for message in sent:
        await bus.publish(subject, message)
    assert await first.holds(20) == sent
    assert await second.holds(20) == sent


async def test_a_failing_handler_does_not_stop_delivery_to_others(bus: Bus, subject: str) -> None:
    calls = 0

    async def broken(message: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("handler bug")

    healthy = Inbox()
    await bus.subscribe(subject, broken)
    await bus.subscribe(subject, healthy)
    await bus.publish(subject, {"n": 1})
    await bus.publish(subject, {"n": 2})
    assert await healthy.holds(2) == [{"n": 1}, {"n": 2}]
    assert calls == 2  # the broken handler keeps being called, too


async def test_subjects_are_separate(bus: Bus, subject: str) -> None:
    mine, other = Inbox(), Inbox()
    await bus.subscribe(subject, mine)
    await bus.subscribe(subject + ".other", other)
    await bus.publish(subject + ".other", {"for": "other"})
    await bus.publish(subject, {"for": "mine"})
    assert await mine.holds(1) == [{"for": "mine"}]
    assert await other.holds(1) == [{"for": "other"}]
    assert mine.messages == [{"for": "mine"}]


@needs_nats
async def test_nats_carries_messages_between_two_connections(subject: str) -> None:
    sender, receiver = open_bus(NATS_URL), open_bus(NATS_URL)
    await sender.start()
    await receiver.start()
    try:
        inbox = Inbox()
        await receiver.subscribe(subject, inbox)
        await sender.publish(subject, {"agent_id": "a1", "code": 4403})
        assert await inbox.holds(1) == [{"agent_id": "a1", "code": 4403}]
    finally:
        await sender.close()
        await receiver.close()


async def test_an_unreachable_nats_fails_start_with_a_clear_error() -> None:
    bus = NatsBus(f"nats://127.0.0.1:{free_port()}", connect_timeout_s=1.5)
    started = time.monotonic()
    with pytest.raises(TransientError, match="cannot reach the bus"):
        await bus.start()
    assert time.monotonic() - started < 5


def test_an_unknown_bus_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported bus URL"):
        open_bus("redis://localhost")
