"""Daily / weekly time windows in an IANA time zone (channel filters, maintenance windows).

A window is wall-clock local time `[start, end)` on the given weekdays (0 = Monday). When
`end <= start` the window runs across midnight and belongs to the weekday it started on:
"Fri 22:00-06:00" covers Friday 22:00 to Saturday 06:00. `start == end` means the whole day.
Comparing wall-clock times makes DST transitions behave as a person reading a clock expects:
a 01:00-03:00 window on a spring-forward night is simply one hour shorter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetwatch.errors import InvalidFieldError

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
ALL_DAYS: frozenset[int] = frozenset(range(7))


class WindowError(InvalidFieldError):
    """An invalid field (see `InvalidFieldError`)."""


def parse_hhmm(value: str, field: str) -> time:
    match = _HHMM.match(value or "")
    if not match:
        raise WindowError(field, f"expected HH:MM (24 h), got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_zone(name: str, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError(field, f"unknown IANA time zone {name!r}") from None


def parse_weekdays(days: Iterable[int] | None, field: str = "weekdays") -> frozenset[int]:
    if days is None:
        return ALL_DAYS
    out = frozenset(days)
    if not out or any(not isinstance(d, int) or d < 0 or d > 6 for d in out):
        raise WindowError(field, "expected a non-empty list of weekdays 0 (Monday) .. 6 (Sunday)")
    return out


@dataclass(frozen=True)
class TimeWindow:
    start: time
    end: time
    tz: ZoneInfo
    weekdays: frozenset[int] = ALL_DAYS

    @classmethod
    def parse(
        cls,
        start: str,
        end: str,
        timezone: str = "UTC",
        weekdays: Iterable[int] | None = None,
        names: tuple[str, str, str, str] = ("start", "end", "timezone", "weekdays"),
    ) -> TimeWindow:
        """Build from API strings; errors name the field (`names` = the four field names)."""
        return cls(
            start=parse_hhmm(start, names[0]),
            end=parse_hhmm(end, names[1]),
            tz=parse_zone(timezone, names[2]),
            weekdays=parse_weekdays(weekdays, names[3]),
        )

    def contains(self, at_epoch: float) -> bool:
        """Is the instant `at_epoch` (UNIX seconds) inside the window?"""
        local = datetime.fromtimestamp(at_epoch, self.tz)
        now = local.time().replace(tzinfo=None)
        day = local.weekday()
        if self.start == self.end:
            return day in self.weekdays
        if self.start < self.end:
            return self.start <= now < self.end and day in self.weekdays
        if now >= self.start:
            return day in self.weekdays
        if now < self.end:
            return (day - 1) % 7 in self.weekdays
        return False

    def to_dict(self) -> dict[str, object]:
        return {
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "timezone": self.tz.key,
            "weekdays": sorted(self.weekdays),
        }
