"""Cron expressions: parsing (fields, ranges, steps, lists, names, macros, refusals) and next fire
times in a time zone, across daylight-saving gaps and folds; interval timing in absolute time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from borealis.core.errors import InvalidInput
from borealis.server.schedules.cron import parse_cron, resolve_wall
from borealis.server.schedules.timing import Timing, parse_zone

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def fires(expression: str, after: datetime, count: int, zone: ZoneInfo = UTC_ZONE) -> list[datetime]:
    spec = parse_cron(expression)
    found: list[datetime] = []
    at = after
    for _ in range(count):
        nxt = spec.next_after(at, zone)
        assert nxt is not None
        assert nxt > at
        found.append(nxt)
        at = nxt
    return found


def local(values: list[datetime], zone: ZoneInfo) -> list[str]:
    return [value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S%z") for value in values]


def test_five_fields_fire_on_the_minute_and_six_fields_on_the_second() -> None:
    assert fires("*/15 * * * *", utc(2026, 1, 1, 10, 7, 30), 3) == [
        utc(2026, 1, 1, 10, 15),
        utc(2026, 1, 1, 10, 30),
        utc(2026, 1, 1, 10, 45),
    ]
    assert fires("*/20 * * * * *", utc(2026, 1, 1, 10, 0, 59, 500), 3) == [
        utc(2026, 1, 1, 10, 1, 0),
        utc(2026, 1, 1, 10, 1, 20),
        utc(2026, 1, 1, 10, 1, 40),
    ]
    assert fires("5,10-12 0 0 * * *", utc(2026, 1, 1), 5) == [
        utc(2026, 1, 1, 0, 0, 5),
        utc(2026, 1, 1, 0, 0, 10),
        utc(2026, 1, 1, 0, 0, 11),
        utc(2026, 1, 1, 0, 0, 12),
        utc(2026, 1, 2, 0, 0, 5),
    ]


def test_strictly_after_even_on_an_exact_slot() -> None:
    assert fires("0 * * * *", utc(2026, 1, 1, 10), 1) == [utc(2026, 1, 1, 11)]
    assert fires("0 * * * *", utc(2026, 1, 1, 10, 0, 0) - timedelta(microseconds=1), 1) == [
        utc(2026, 1, 1, 10)
    ]


def test_ranges_steps_lists_and_names() -> None:
    # Weekdays by name, at 09:30: 2026-01-02 is a Friday.
    assert local(fires("30 9 * * MON-FRI", utc(2026, 1, 2, 10), 3), UTC_ZONE) == [
        "2026-01-05 09:30:00+0000",
        "2026-01-06 09:30:00+0000",
        "2026-01-07 09:30:00+0000",
    ]
    assert fires("0 0 1 jan,Jul *", utc(2026, 2, 1), 2) == [utc(2026, 7, 1), utc(2027, 1, 1)]
    assert fires("0 8-18/4 * * *", utc(2026, 3, 3, 9), 4) == [
        utc(2026, 3, 3, 12),
        utc(2026, 3, 3, 16),
        utc(2026, 3, 4, 8),
        utc(2026, 3, 4, 12),
    ]
    assert fires("0 20/2 * * *", utc(2026, 3, 3), 3) == [
        utc(2026, 3, 3, 20),
        utc(2026, 3, 3, 22),
        utc(2026, 3, 4, 20),
    ]
    # 7 and 0 are both Sunday; 2026-03-08 is a Sunday.
    assert fires("0 0 * * 7", utc(2026, 3, 3), 1) == fires("0 0 * * SUN", utc(2026, 3, 3), 1)
    assert fires("0 0 * * 0", utc(2026, 3, 3), 1) == [utc(2026, 3, 8)]


def test_day_of_month_and_day_of_week_both_restricted_match_either() -> None:
    # The 13th, or any Friday (Vixie cron): 2026-03-06 and -13 are Fridays, the 13th too.
    assert fires("0 0 13 * FRI", utc(2026, 3, 1), 4) == [
        utc(2026, 3, 6),
        utc(2026, 3, 13),
        utc(2026, 3, 20),
        utc(2026, 3, 27),
    ]
    # Only one restricted: both must match (`?` and `*` are unrestricted).
    assert fires("0 0 13 * ?", utc(2026, 3, 1), 2) == [utc(2026, 3, 13), utc(2026, 4, 13)]


def test_macros_and_rare_days() -> None:
    assert fires("@daily", utc(2026, 5, 5, 1), 1) == [utc(2026, 5, 6)]
    assert fires("@hourly", utc(2026, 5, 5, 1, 1), 1) == [utc(2026, 5, 5, 2)]
    assert fires("@weekly", utc(2026, 5, 5), 1) == [utc(2026, 5, 10)]  # Sunday
    assert fires("@yearly", utc(2026, 5, 5), 1) == [utc(2027, 1, 1)]
    assert fires("0 12 29 2 *", utc(2026, 1, 1), 2) == [utc(2028, 2, 29, 12), utc(2032, 2, 29, 12)]
    assert fires("0 0 31 * *", utc(2026, 1, 31, 1), 2) == [utc(2026, 3, 31), utc(2026, 5, 31)]


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",
        "* * * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 13 *",
        "* * * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "FRI-MON * * * *",
        "* * * * FRI-MON",
        "L * * * *",
        "* * L * *",
        "1W * * * *",
        "* * * * 1#2",
        "a * * * *",
        "1,,2 * * * *",
        "? * * * *",
        "@reboot",
        "@sometimes",
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "* * * * * é",
        "1" * 200,
        "-1 * * * *",
        "99999 * * * *",
    ],
)
def test_bad_expressions_are_refused_naming_the_field(expression: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cron(expression)
    assert refused.value.extra["field"] == "cron"
    assert refused.value.detail


def test_berlin_spring_forward_gap_fires_at_the_first_instant_after_it() -> None:
    # 2026-03-29: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
    slots = fires("30 2 * * *", utc(2026, 3, 28, 12), 3, BERLIN)
    assert local(slots, BERLIN) == [
        "2026-03-29 03:00:00+0200",
        "2026-03-30 02:30:00+0200",
        "2026-03-31 02:30:00+0200",
    ]
    # Every wall time in the gap collapses onto that one instant, which fires once.
    slots = fires("*/15 * * * *", utc(2026, 3, 29, 0, 40), 4, BERLIN)
    assert local(slots, BERLIN) == [
        "2026-03-29 01:45:00+0100",
        "2026-03-29 03:00:00+0200",
        "2026-03-29 03:15:00+0200",
        "2026-03-29 03:30:00+0200",
    ]


def test_berlin_fall_back_fold_fires_once_at_the_first_occurrence() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00–02:59 happens twice.
    slots = fires("30 2 * * *", utc(2026, 10, 24, 12), 2, BERLIN)
    assert local(slots, BERLIN) == ["2026-10-25 02:30:00+0200", "2026-10-26 02:30:00+0100"]
    slots = fires("0,30 * * * *", utc(2026, 10, 24, 23, 10), 5, BERLIN)
    assert local(slots, BERLIN) == [
        "2026-10-25 01:30:00+0200",
        "2026-10-25 02:00:00+0200",
        "2026-10-25 02:30:00+0200",
        "2026-10-25 03:00:00+0100",  # the repeated 02:00 and 02:30 (CET) do not fire again
        "2026-10-25 03:30:00+0100",
    ]
    # Asked from inside the second pass of the fold, the repeated wall times are still skipped.
    inside = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1)
    assert local(fires("*/20 * * * *", inside, 1, BERLIN), BERLIN) == ["2026-10-25 03:00:00+0100"]


def test_new_york_transitions() -> None:
    # 2026-03-08: 02:00 EST becomes 03:00 EDT.
    slots = fires("15 2 * * *", utc(2026, 3, 7, 12), 2, NEW_YORK)
    assert local(slots, NEW_YORK) == ["2026-03-08 03:00:00-0400", "2026-03-09 02:15:00-0400"]
    # 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 fires once, in EDT.
    slots = fires("30 1 * * *", utc(2026, 10, 31, 12), 2, NEW_YORK)
    assert local(slots, NEW_YORK) == ["2026-11-01 01:30:00-0400", "2026-11-02 01:30:00-0500"]
    # Seconds across the fold: 01:59:50–01:59:59 EDT, then on to 02:00:00 EST.
    slots = fires("*/5 * * * * *", utc(2026, 11, 1, 5, 59, 50), 3, NEW_YORK)
    assert local(slots, NEW_YORK) == [
        "2026-11-01 01:59:55-0400",
        "2026-11-01 02:00:00-0500",
        "2026-11-01 02:00:05-0500",
    ]


def test_resolve_wall_rule() -> None:
    assert resolve_wall(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert resolve_wall(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert resolve_wall(datetime(2026, 7, 1, 12, 0), BERLIN) == utc(2026, 7, 1, 10, 0)


def test_interval_slots_are_in_absolute_time_across_dst() -> None:
    anchor = utc(2026, 3, 29, 0, 30)
    timing = Timing.build(None, 3600, "Europe/Berlin", anchor, None)
    slots = timing.upcoming(anchor, 3)
    assert slots == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30), utc(2026, 3, 29, 3, 30)]
    assert timing.next_after(anchor - timedelta(days=1)) == anchor
    assert timing.next_after(utc(2026, 3, 29, 1, 59, 59)) == utc(2026, 3, 29, 2, 30)


def test_start_and_end_bound_the_slots() -> None:
    timing = Timing.build("0 * * * *", None, "UTC", utc(2026, 1, 1, 5, 30), utc(2026, 1, 1, 8))
    assert timing.upcoming(utc(2026, 1, 1), 10) == [
        utc(2026, 1, 1, 6),
        utc(2026, 1, 1, 7),
        utc(2026, 1, 1, 8),
    ]
    on_start = Timing.build("0 * * * *", None, "UTC", utc(2026, 1, 1, 6), None)
    assert on_start.next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 6)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../../etc/passwd", "/etc/localtime", "x" * 65])
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_zone(name)
    assert refused.value.extra["field"] == "timezone"


def test_exactly_one_of_cron_and_interval() -> None:
    with pytest.raises(InvalidInput):
        Timing.build(None, None, "UTC", utc(2026, 1, 1), None)
    with pytest.raises(InvalidInput):
        Timing.build("* * * * *", 5, "UTC", utc(2026, 1, 1), None)
    with pytest.raises(InvalidInput) as refused:
        Timing.build(None, 0, "UTC", utc(2026, 1, 1), None)
    assert refused.value.extra["field"] == "interval_s"
