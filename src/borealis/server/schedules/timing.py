"""When a schedule fires: a cron expression in an IANA zone, or an interval in absolute time, bounded by
an optional start (no slot before it) and end (no slot after it).

Interval slots are `anchor + k * interval` in UTC, so daylight-saving changes do not move them; the
anchor is the schedule's `start_at`, or the second it was created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from borealis.core.errors import InvalidInput
from borealis.server.schedules.cron import CronSpec, parse_cron

MIN_INTERVAL_S = 1
MAX_INTERVAL_S = 366 * 86400
MAX_ZONE_CHARS = 64


def parse_zone(name: str) -> ZoneInfo:
    if not name or len(name) > MAX_ZONE_CHARS or not name.isascii() or ".." in name or name.startswith("/"):
        raise InvalidInput(f"unknown time zone {name[:MAX_ZONE_CHARS]!r}", field="timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or UTC", field="timezone"
        ) from exc


@dataclass(frozen=True)
class Timing:
    zone: ZoneInfo
    anchor: datetime
    cron: CronSpec | None = None
    interval: timedelta | None = None
    end_at: datetime | None = None

    @classmethod
    def build(
        cls,
        cron: str | None,
        interval_s: int | None,
        timezone: str,
        anchor: datetime,
        end_at: datetime | None,
    ) -> Timing:
        if (cron is None) == (interval_s is None):
            raise InvalidInput("give exactly one of cron and interval_s", field="cron")
        zone = parse_zone(timezone)
        if interval_s is not None:
            if not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
                raise InvalidInput(
                    f"interval_s must be {MIN_INTERVAL_S}–{MAX_INTERVAL_S} seconds", field="interval_s"
                )
            return cls(zone, anchor, interval=timedelta(seconds=interval_s), end_at=end_at)
        return cls(zone, anchor, cron=parse_cron(str(cron)), end_at=end_at)

    def next_after(self, after: datetime) -> datetime | None:
        """The first slot strictly after `after` (and not before the anchor); None when the end is
        reached or a cron expression has no further day."""
        slot = self._next(after)
        if slot is None or (self.end_at is not None and slot > self.end_at):
            return None
        return slot

    def _next(self, after: datetime) -> datetime | None:
        if self.interval is not None:
            if after < self.anchor:
                return self.anchor
            try:
                return self.anchor + ((after - self.anchor) // self.interval + 1) * self.interval
            except OverflowError:  # past year 9999: there is no further slot
                return None
        assert self.cron is not None
        return self.cron.next_after(max(after, self.anchor - timedelta(microseconds=1)), self.zone)

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        slots: list[datetime] = []
        slot = self.next_after(after)
        while slot is not None and len(slots) < count:
            slots.append(slot)
            slot = self.next_after(slot)
        return slots
