"""The fleet's status counts over the day behind the home page chart: sampled, bounded, read by API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from borealis.server.fleet_trend import FleetTrend
from borealis.server.state import app_state
from tests.conftest import App
from tests.server.fleet import enrolled_agent


async def test_samples_count_the_fleet_by_status_and_the_api_returns_them(app: App) -> None:
    state = app_state(app.app)
    await enrolled_agent(app.client, app.auth(), hostname="t-1")
    await enrolled_agent(app.client, app.auth(), hostname="t-2", approval_required=True)
    sample = await state.fleet_trend.sample_now()
    assert sample.counts == {"online": 0, "offline": 1, "overdue": 0, "pending": 1, "revoked": 0}

    response = await app.client.get("/api/v1/fleet/trend", headers=app.auth())
    assert response.status_code == 200
    body = response.json()
    assert body["every_s"] == 300.0
    last = body["samples"][-1]
    assert (last["offline"], last["pending"], last["online"]) == (1, 1, 0)
    later = await app.client.get("/api/v1/fleet/trend", params={"since": last["at"]}, headers=app.auth())
    assert later.json()["samples"] == []
    bad = await app.client.get("/api/v1/fleet/trend", params={"since": "soon"}, headers=app.auth())
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


async def test_the_trend_keeps_one_day(app: App) -> None:
    state = app_state(app.app)
    now = [datetime(2026, 1, 1, tzinfo=UTC)]

    def wall() -> datetime:
        return now[0]

    trend = FleetTrend(state.db, state.presence, every_s=300, keep=3, wall=wall)
    for minute in range(0, 25, 5):
        now[0] = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
        await trend.sample_now()
    assert [s.at.minute for s in trend.since()] == [10, 15, 20]
    assert [s.at.minute for s in trend.since(datetime(2026, 1, 1, 0, 12, tzinfo=UTC))] == [15, 20]
