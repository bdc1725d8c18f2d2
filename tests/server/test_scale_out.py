"""Two server processes sharing one PostgreSQL database and one NATS bus (DESIGN §12)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.server.fleet import enrolled_agent, open_session

pytestmark = pytest.mark.slow


async def test_revoking_through_one_process_closes_the_socket_held_by_another(
    server_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = server_pair
    headers = {"Authorization": f"Bearer {a.token}"}
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
