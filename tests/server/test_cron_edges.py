"""Fire times at the end of the calendar: near year 9999 there is "no further fire time" (None, and
an empty preview), never a ValueError/OverflowError or a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from borealis.server.schedules.cron import parse_cron
from borealis.server.schedules.timing import Timing
from tests.conftest import App
from tests.server.fleet import enrolled_agent
from tests.server.test_schedules_api import create, job_action

ZONES = ["UTC", "Pacific/Kiritimati", "America/Los_Angeles", "Pacific/Pago_Pago", "Europe/Berlin"]
AFTER = [
    datetime(9999, 6, 1, tzinfo=UTC),
    datetime(9998, 12, 31, 23, 0, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("after", AFTER, ids=lambda d: d.isoformat())
@pytest.mark.parametrize("expression", ["0 0 1 1 *", "* * * * *", "0 0 29 2 *", "*/7 * * * * *"])
def test_no_fire_time_past_the_calendar_is_none_not_an_error(
    zone: str, after: datetime, expression: str
) -> None:
    found = parse_cron(expression).next_after(after, ZoneInfo(zone))
    assert found is None or found > after


def test_the_last_fire_times_still_come() -> None:
    assert parse_cron("0 0 1 1 *").next_after(datetime(9998, 6, 1, tzinfo=UTC), ZoneInfo("UTC")) == datetime(
        9999, 1, 1, tzinfo=UTC
    )
    assert parse_cron("0 0 1 1 *").next_after(datetime(9999, 6, 1, tzinfo=UTC), ZoneInfo("UTC")) is None


def test_intervals_end_with_the_calendar_too() -> None:
    timing = Timing.build(None, 366 * 86400, "UTC", datetime(2026, 1, 1, tzinfo=UTC), None)
    assert timing.next_after(datetime(9999, 12, 31, tzinfo=UTC)) is None
    assert timing.upcoming(datetime(9998, 1, 1, tzinfo=UTC), 5)[-1] < datetime(9999, 12, 31, tzinfo=UTC)
    assert timing.next_after(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, tzinfo=UTC
    ) + timedelta(days=366)


async def test_a_preview_at_the_end_of_the_calendar_is_empty(app: App) -> None:
    agent = await enrolled_agent(app.client, app.auth())
    made = await create(
        app, name="yearly", cron="0 0 1 1 *", timezone="Pacific/Kiritimati", action=job_action(agent.agent_id)
    )
    assert made.status_code == 201, made.text
    for after in ("9999-06-01T00:00:00Z", "9998-12-31T23:00:00Z", "9999-12-31T23:59:59Z"):
        preview = await app.client.get(
            f"/api/v1/schedules/{made.json()['id']}/preview",
            params={"count": 5, "after": after},
            headers=app.auth(),
        )
        assert preview.status_code == 200, preview.text
        assert preview.json()["items"] == []
