"""Several server processes on one PostgreSQL and NATS share one view of presence (DESIGN §7, §12)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.server.fleet import Session, enrolled_agent, open_session
from tests.support import eventually

pytestmark = pytest.mark.slow


def _status(server: ServerProcess, agent_id: str) -> str:
    return str(server.agent(agent_id)["status"])


async def _wait_status(server: ServerProcess, agent_id: str, wanted: str, timeout: float = 8.0) -> None:
    async def reached() -> bool:
        return _status(server, agent_id) == wanted

    await eventually(reached, timeout, f"{agent_id} {wanted} on {server.url}", interval=0.1)


async def _beating_agent_on(server: ServerProcess) -> tuple[str, Session]:
    """Enroll an agent and hold its socket on `server`, heartbeating every 0.3 s."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        agent = await enrolled_agent(client, {"Authorization": f"Bearer {server.token}"})
    session = await open_session(server.url, agent)
    assert session.welcome is not None
    session.keep_beating(0.3)
    return agent.agent_id, session


async def test_an_agent_on_one_process_is_online_on_the_other(
    server_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = server_pair
    agent_id, session = await _beating_agent_on(b)
    await _wait_status(b, agent_id, "online")
    await _wait_status(a, agent_id, "online")
    await session.close(1000)
    await _wait_status(a, agent_id, "offline", timeout=3)


async def test_a_crashed_process_takes_its_agents_offline_elsewhere(
    server_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = server_pair
    agent_id, session = await _beating_agent_on(b)
    await _wait_status(a, agent_id, "online")
    b.kill()
    await session.stop_beating()
    # heartbeat_s is 1 in tests: the window is 2.5 s after B's last beacon.
    await _wait_status(a, agent_id, "offline", timeout=6)


async def test_a_process_started_later_learns_who_is_connected(
    server_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = server_pair
    agent_id, session = await _beating_agent_on(b)
    await _wait_status(a, agent_id, "online")
    a.kill()
    await asyncio.to_thread(a.start)  # not on the loop: the agent keeps beating meanwhile
    await _wait_status(a, agent_id, "online", timeout=5)
    await session.close(1000)
