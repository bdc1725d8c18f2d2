"""Two server processes sharing one PostgreSQL database and one NATS bus (DESIGN §12)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import NATS_URL, ServerProcess, admin_token, make_settings
from tests.server.fleet import enrolled_agent, open_session
from tests.support import free_port, run_sync

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not NATS_URL, reason="BOREALIS_TEST_NATS_URL is not set")]


async def test_revoking_through_one_process_closes_the_socket_held_by_another(
    tmp_path: Path, db_url: str
) -> None:
    if not db_url:
        pytest.skip("several server processes share PostgreSQL, not SQLite")
    home = tmp_path / "shared-home"  # one home: both processes sign with the same server key
    make_settings(home, db_url)
    a = ServerProcess(home=home, port=free_port(), db_url=db_url, bus_url=NATS_URL)
    b = ServerProcess(home=home, port=free_port(), db_url=db_url, bus_url=NATS_URL)
    try:
        # Both start at once on an empty database: the migrations take turns under an advisory lock.
        await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
        token = run_sync(admin_token(a.settings))
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(base_url=a.url, headers=headers) as api_a,
            httpx.AsyncClient(base_url=b.url, headers=headers) as api_b,
        ):
            agent = await enrolled_agent(api_a, {})
            session = await open_session(b.url, agent)  # the agent's socket lives in process B
            assert session.welcome is not None
            session.keep_beating()
            online = await api_b.get("/api/v1/agents", params={"status": "online"})
            assert [item["id"] for item in online.json()["items"]] == [agent.agent_id]

            started = time.monotonic()
            assert (await api_a.post(f"/api/v1/agents/{agent.agent_id}/revoke")).status_code == 200
            assert await session.closed_by_server(timeout=3) == (4403, "agent revoked")
            assert time.monotonic() - started < 2.0
            for api in (api_a, api_b):
                assert (await api.get(f"/api/v1/agents/{agent.agent_id}")).json()["status"] == "revoked"

            again = await open_session(b.url, agent)
            assert again.welcome is None and again.close_code == 4403
    finally:
        a.kill()
        b.kill()
