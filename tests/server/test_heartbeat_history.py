"""The heartbeat history behind the device charts: bounded, spaced, and read through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from borealis.server.heartbeats import HeartbeatHistory
from tests.conftest import ServerProcess
from tests.server.fleet import enrolled_agent, open_session
from tests.support import eventually


def test_history_keeps_one_sample_per_interval_and_at_most_keep() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    history = HeartbeatHistory(every_s=30, keep=4, wall=lambda: now[0])
    for second in range(0, 300, 10):  # a beat every 10 s for 5 minutes
        now[0] = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=second)
        history.record("a", cpu_pct=float(second), rss_bytes=second * 1024 * 1024)
    samples = history.since("a")
    assert [s.at.second + 60 * s.at.minute for s in samples] == [180, 210, 240, 270]
    assert samples[-1].cpu_pct == 270.0 and samples[-1].rss_bytes == 270 * 1024 * 1024
    assert [s.at for s in history.since("a", samples[1].at)] == [samples[2].at, samples[3].at]
    assert history.since("unknown") == []
    history.forget("a")
    assert history.since("a") == []


def test_history_for_a_heartbeat_covers_four_hours() -> None:
    assert HeartbeatHistory.for_heartbeat(30).keep == 480
    assert HeartbeatHistory.for_heartbeat(1).every_s == 5.0  # test servers beat every second
    assert HeartbeatHistory.for_heartbeat(1).keep == 2880


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=10) as client:
        yield client


async def test_metrics_endpoint_returns_the_agents_heartbeats(
    server: ServerProcess, api: httpx.AsyncClient
) -> None:
    agent = await enrolled_agent(api, {}, hostname="charts-01")
    session = await open_session(server.url, agent)
    session.keep_beating(0.2)
    try:
        url = f"/api/v1/agents/{agent.agent_id}/metrics"

        async def sampled() -> dict[str, Any] | None:
            got: dict[str, Any] = (await api.get(url)).json()
            return got if got["samples"] else None

        body = await eventually(sampled, 5, "a kept sample", interval=0.1)
        assert body["agent_id"] == agent.agent_id and body["every_s"] == 5.0
        assert len(body["samples"]) == 1  # beats every 0.2 s, kept every 5 s
        assert (
            body["samples"][0]["cpu_pct"] == 1.5 and abs(body["samples"][0]["rss_bytes"] - 50_000_000) < 1024
        )  # kept in KiB
        later = await api.get(url, params={"since": body["samples"][0]["at"]})
        assert later.status_code == 200 and later.json()["samples"] == []
    finally:
        await session.close()
    assert (await api.post(f"/api/v1/agents/{agent.agent_id}/revoke")).status_code == 200
    assert (await api.get(url)).json()["samples"] == []  # a revoked agent's history is let go
    missing = await api.get("/api/v1/agents/" + "0" * 32 + "/metrics")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )
    bad = await api.get(url, params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "since"
