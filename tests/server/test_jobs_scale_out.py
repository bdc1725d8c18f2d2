"""Jobs across two server processes sharing PostgreSQL and NATS (DESIGN §12): a job submitted to one
process reaches an agent held by the other, and its result and live events are seen from both."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.server.fleet import enrolled_agent, job_is_signed_by, open_session
from tests.server.test_jobs import read_events, until_event
from tests.support import eventually

pytestmark = pytest.mark.slow


async def test_a_job_submitted_to_one_process_reaches_an_agent_held_by_another(
    server_pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = server_pair
    headers = {"Authorization": f"Bearer {a.token}"}
    async with httpx.AsyncClient(base_url=a.url, headers=headers, timeout=20) as api_a:
        agent = await enrolled_agent(api_a, {})
        session = await open_session(b.url, agent)  # held by process B
        assert session.welcome is not None
        session.keep_beating()

        async def online_on_a() -> bool:
            return bool((await api_a.get(f"/api/v1/agents/{agent.agent_id}")).json()["status"] == "online")

        await eventually(online_on_a, 5, "online as process A sees it")
        body = {
            "role": "script",
            "params": {"language": "sh", "script": "echo hi"},
            "target": {"agents": [agent.agent_id]},
        }
        job = (await api_a.post("/api/v1/jobs", json=body)).json()
        frame = await session.receive("job", 10)
        assert frame["job_id"] == job["id"] and job_is_signed_by(frame, agent.server_public_key)

        seen: list[tuple[str, dict[str, Any]]] = []

        async def listen() -> list[tuple[str, dict[str, Any]]]:
            async with api_a.stream("GET", f"/api/v1/jobs/{job['id']}/events") as response:
                return await read_events(response, seen)

        listening = asyncio.create_task(listen())
        await until_event(seen, "snapshot")
        await session.accept(job["id"])
        await session.output(job["id"], "hi\n")
        await session.result(job["id"], "succeeded", 0, stdout_tail="hi\n")
        await session.receive("ack")
        events = await asyncio.wait_for(listening, 10)
        assert [d["status"] for n, d in events if n == "state"] == ["running", "succeeded"]
        assert [d["chunk"] for n, d in events if n == "output"] == ["hi\n"]
        stored = (await api_a.get(f"/api/v1/jobs/{job['id']}")).json()
        assert stored["status"] == "succeeded" and stored["results"][0]["stdout"] == "hi\n"

        # A cancel through A reaches the running job on B.
        second = (await api_a.post("/api/v1/jobs", json=body)).json()
        await session.receive("job", 10)
        await session.accept(second["id"])
        await session.receive("ack")
        assert (await api_a.post(f"/api/v1/jobs/{second['id']}/cancel")).status_code == 200
        assert (await session.receive("job.cancel", 10))["job_id"] == second["id"]
        await session.close()
