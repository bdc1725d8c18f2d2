"""Fixtures for the server tests that need several server processes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import NATS_URL, ServerProcess, admin_token, make_settings
from tests.support import free_port, run_sync


@pytest.fixture
def server_pair(tmp_path: Path, db_url: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes on one PostgreSQL database and NATS, sharing one home (one server key,
    as a real deployment must: agents pin it), started at once so their migrations race."""
    if not NATS_URL:
        pytest.skip("BOREALIS_TEST_NATS_URL is not set")
    if not db_url:
        pytest.skip("several server processes share PostgreSQL, not SQLite")
    home = tmp_path / "shared-home"
    make_settings(home, db_url)
    a = ServerProcess(home=home, port=free_port(), db_url=db_url, bus_url=NATS_URL)
    b = ServerProcess(home=home, port=free_port(), db_url=db_url, bus_url=NATS_URL)
    try:
        with ThreadPoolExecutor(2) as pool:
            for started in [pool.submit(a.start), pool.submit(b.start)]:
                started.result()
        a.token = b.token = run_sync(admin_token(a.settings))
        yield a, b
    finally:
        a.kill()
        b.kill()
