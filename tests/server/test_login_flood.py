"""Logins under a flood: attempts count before the password is hashed, and the hash queue is bounded
per client address and in all, so junk logins are refused early instead of delaying real ones."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from borealis.server.auth.hash_gate import CAPACITY, PER_ADDRESS
from borealis.server.auth.secrets import hash_password
from borealis.server.auth.throttle import MAX_FAILURES
from tests.conftest import App
from tests.server.operators import PASSWORD, create_user


@asynccontextmanager
async def client_from(app: App, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests arrive from `address` (the app sees it as the peer)."""
    transport = httpx.ASGITransport(app=app.app, client=(address, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


async def test_parallel_wrong_passwords_are_throttled_before_they_are_hashed(app: App) -> None:
    await create_user(app, "olivia", "operator")
    async with client_from(app, "198.51.100.1") as guesser:
        answers = await asyncio.gather(*(login(guesser, "olivia", f"guess number {i}") for i in range(30)))
        statuses = Counter(r.status_code for r in answers)
        assert statuses[401] <= MAX_FAILURES, statuses
        assert statuses[429] >= 30 - MAX_FAILURES, statuses
        assert set(statuses) <= {401, 429}
        assert all(r.headers["content-type"] == "application/problem+json" for r in answers)
        # Keep guessing in order: once the count is full even the right password waits.
        for i in range(MAX_FAILURES):
            await login(guesser, "olivia", f"another guess {i}")
        assert (await login(guesser, "olivia", PASSWORD)).status_code == 429
    async with client_from(app, "198.51.100.2") as owner:  # another address is not locked out
        assert (await login(owner, "olivia", PASSWORD)).status_code == 200


async def test_junk_logins_from_one_address_do_not_delay_a_real_login(app: App) -> None:
    await create_user(app, "olivia", "operator")
    started = time.monotonic()
    hash_password(PASSWORD)
    one_hash = time.monotonic() - started
    async with client_from(app, "198.51.100.1") as junk, client_from(app, "198.51.100.9") as owner:
        flood = [asyncio.create_task(login(junk, f"nobody{i}", "wrong password")) for i in range(30)]
        await asyncio.sleep(0)
        started = time.monotonic()
        real = await login(owner, "olivia", PASSWORD)
        waited = time.monotonic() - started
        answers = await asyncio.gather(*flood)
    assert real.status_code == 200
    statuses = Counter(r.status_code for r in answers)
    # Only PER_ADDRESS of the junk logins were hashed at a time; the others were refused at once.
    assert statuses[429] >= 30 - 2 * PER_ADDRESS, statuses
    # Unbounded, the real login waited behind 30 hashes on 2 threads (~15 hashes); now behind at most
    # the junk address's share.
    assert waited < (PER_ADDRESS + 3) * one_hash + 0.5, (
        f"waited {waited:.2f}s; one hash takes {one_hash:.2f}s"
    )


async def test_a_full_hash_queue_answers_503_at_once(app: App) -> None:
    addresses = [f"198.51.100.{i}" for i in range(10, 40)]
    clients = [client_from(app, address) for address in addresses]
    opened = [await c.__aenter__() for c in clients]
    try:
        answers = await asyncio.gather(*(login(c, "nobody", "wrong password") for c in opened))
    finally:
        for c in clients:
            await c.__aexit__(None, None, None)
    statuses = Counter(r.status_code for r in answers)
    assert statuses[401] <= CAPACITY + 2, statuses  # a few may finish and free a place meanwhile
    assert statuses[503] >= 30 - CAPACITY - 2, statuses
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.json()["type"].endswith("/unavailable")
