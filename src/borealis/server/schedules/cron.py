"""Cron expressions (5 fields, or 6 with seconds first) and their next fire time in an IANA time zone.

Supported per field: `*`, a number, a name (JAN–DEC, SUN–SAT), a range `a-b`, a step `*/n`, `a-b/n` or
`a/n` (from a to the field's maximum), and comma-separated lists of these; `?` means `*` in the day
fields; day of week 0–7 (0 and 7 are Sunday); and the macros @yearly, @annually, @monthly, @weekly,
@daily, @midnight, @hourly. Not supported: `L`, `W`, `#`, wrapping ranges (`FRI-MON`), @reboot.
When both day fields are restricted (neither is `*` or `?`), a day matches if either does (as in
Vixie cron); otherwise both must.

Daylight saving, in the schedule's zone: each wall-clock time fires at most once. A wall time that
does not exist (in the gap when clocks go forward) fires at the first instant after the gap; a wall
time that occurs twice (when clocks go back) fires once, at its first occurrence.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from borealis.core.errors import InvalidInput

MAX_EXPRESSION_CHARS = 128
SEARCH_YEARS = 30  # a day that exists (29 February on a Monday…) comes round well within this

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_from: int = 0


SECOND = _Field("second", 0, 59)
MINUTE = _Field("minute", 0, 59)
HOUR = _Field("hour", 0, 23)
DAY = _Field("day of month", 1, 31)
MONTH = _Field("month", 1, 12, MONTH_NAMES, 1)
WEEKDAY = _Field("day of week", 0, 7, DAY_NAMES, 0)


@dataclass(frozen=True)
class CronSpec:
    """A parsed expression: the sorted values each field allows (day of week: 0 is Sunday)."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: tuple[int, ...]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, day: date) -> bool:
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week

    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        """The first fire time strictly after `after` (aware), as an aware UTC datetime; None if
        there is none within SEARCH_YEARS, or none the calendar can hold (years end at 9999)."""
        try:
            return self._next_instant(after, zone)
        except (OverflowError, ValueError):  # only datetime's range raises these here
            return None

    def _next_instant(self, after: datetime, zone: ZoneInfo) -> datetime | None:
        local = after.astimezone(zone)
        wall = local.replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
        limit = min(local.year + SEARCH_YEARS, MAXYEAR)
        while True:
            found = self._next_wall(wall, limit)
            if found is None:
                return None
            instant = resolve_wall(found, zone)
            if instant > after:
                return instant
            # A repeated wall time whose first occurrence is already past: it does not fire again.
            wall = found + timedelta(seconds=1)

    def _next_wall(self, wall: datetime, limit_year: int) -> datetime | None:
        """The first naive wall time at or after `wall` that the fields allow."""
        while wall.year <= limit_year:
            if wall.month not in self.months:
                index = bisect.bisect_left(self.months, wall.month)
                if index < len(self.months):
                    wall = datetime(wall.year, self.months[index], 1)
                else:
                    wall = datetime(wall.year + 1, self.months[0], 1)
                continue
            if not self.day_matches(wall.date()):
                wall = datetime(wall.year, wall.month, wall.day) + timedelta(days=1)
                continue
            hour = _next_value(self.hours, wall.hour)
            if hour is None:
                wall = datetime(wall.year, wall.month, wall.day) + timedelta(days=1)
                continue
            if hour != wall.hour:
                wall = wall.replace(hour=hour, minute=0, second=0)
            minute = _next_value(self.minutes, wall.minute)
            if minute is None:
                wall = wall.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if minute != wall.minute:
                wall = wall.replace(minute=minute, second=0)
            second = _next_value(self.seconds, wall.second)
            if second is None:
                wall = wall.replace(second=0) + timedelta(minutes=1)
                continue
            return wall.replace(second=second)
        return None


def _next_value(allowed: tuple[int, ...], current: int) -> int | None:
    index = bisect.bisect_left(allowed, current)
    return allowed[index] if index < len(allowed) else None


def resolve_wall(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant (UTC) a naive wall time in `zone` stands for, by the rule in the module docstring."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    if first.astimezone(zone).replace(tzinfo=None) == wall:  # it exists twice: the first one
        return min(first, second)
    return _end_of_gap(min(first, second), max(first, second), zone)


def _end_of_gap(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (before, after] whose offset is the one after the transition."""
    target = after.astimezone(zone).utcoffset()
    low, high = before, after  # low: still the old offset; high: already the new one
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return high


@functools.lru_cache(maxsize=4096)
def parse_cron(expression: str) -> CronSpec:
    """Parse an expression; a bad one raises InvalidInput naming the field `cron` and what is wrong.
    Cached: the scheduler builds a schedule's timing on every claim."""
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidInput("cron must be a non-empty expression", field="cron")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise InvalidInput(f"cron is longer than {MAX_EXPRESSION_CHARS} characters", field="cron")
    if not expression.isascii() or not expression.isprintable():
        raise InvalidInput("cron may hold only printable ASCII characters", field="cron")
    text = " ".join(expression.split())
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise InvalidInput(
                f"unknown macro {text!r}; use one of {', '.join(sorted(MACROS))}", field="cron"
            )
        text = MACROS[text.lower()]
    parts = text.split(" ")
    if len(parts) == 5:
        parts = ["0", *parts]
    elif len(parts) != 6:
        raise InvalidInput(
            f"cron has {len(parts)} fields; give 5 (minute hour day month weekday) or 6 (seconds first)",
            field="cron",
        )
    seconds, minutes, hours, days, months, weekdays = (
        _parse_field(part, field)
        for part, field in zip(parts, (SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY), strict=True)
    )
    spec = CronSpec(
        expression=expression.strip(),
        seconds=tuple(sorted(seconds)),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        months=tuple(sorted(months)),
        weekdays=frozenset(value % 7 for value in weekdays),  # 7 is Sunday too
        days_restricted=parts[3] not in ("*", "?"),
        weekdays_restricted=parts[5] not in ("*", "?"),
    )
    if spec.next_after(datetime(2000, 1, 1, tzinfo=UTC), ZoneInfo("UTC")) is None:
        raise InvalidInput(f"cron {expression.strip()!r} never fires (no such day)", field="cron")
    return spec


def _parse_field(text: str, field: _Field) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(item, field)
    return values


def _parse_item(item: str, field: _Field) -> set[int]:
    if not item:
        raise InvalidInput(f"empty list item in the {field.name} field", field="cron")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        step = _number(step_text, field, "step")
        if step < 1:
            raise InvalidInput(f"a step in the {field.name} field must be at least 1", field="cron")
    if base in ("*", "?"):
        if base == "?" and field not in (DAY, WEEKDAY):
            raise InvalidInput(f"'?' is only for the day fields, not {field.name}", field="cron")
        low, high = field.low, field.high
    elif "-" in base:
        start, _, end = base.partition("-")
        low, high = _value(start, field), _value(end, field)
        if low > high:
            raise InvalidInput(
                f"range {base!r} in the {field.name} field runs backwards (wrapping is not supported)",
                field="cron",
            )
    else:
        low = _value(base, field)
        high = field.high if slash else low
    return set(range(low, high + 1, step))


def _value(text: str, field: _Field) -> int:
    upper = text.upper()
    if field.names and upper in field.names:
        return field.names.index(upper) + field.names_from
    value = _number(text, field, "value")
    if not field.low <= value <= field.high:
        raise InvalidInput(
            f"{value} is outside the {field.name} field's {field.low}–{field.high}", field="cron"
        )
    return value


def _number(text: str, field: _Field, what: str) -> int:
    if not text.isdigit() or len(text) > 4:
        raise InvalidInput(f"bad {what} {text!r} in the {field.name} field", field="cron")
    return int(text)
