"""Five-field cron expressions (minute hour day-of-month month day-of-week) for scheduled
messages (H16): `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`; day of week
0-7 (0 and 7 are Sunday). As in Vixie cron, when both day fields are restricted a day matching
either runs. Times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_LIMITS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = ("minute", "hour", "day of month", "month", "day of week")
#: how far ahead a next run is looked for (a Feb 30 never comes)
HORIZON_DAYS = 366 * 5


class CronError(ValueError):
    pass


def _field(text: str, index: int) -> frozenset[int]:
    low, high = _LIMITS[index]
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = int(a), int(b)
            else:
                start = end = int(body)
                if step_text:
                    end = high
        except ValueError:
            raise CronError(f"{_NAMES[index]}: {part!r} is not a number, range or step") from None
        if step < 1 or not low <= start <= end <= high:
            raise CronError(f"{_NAMES[index]}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    if index == 4 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        parts = text.split()
        if len(parts) != 5:
            raise CronError("a cron expression has 5 fields: minute hour day month weekday")
        m, h, d, mo, w = (_field(p, i) for i, p in enumerate(parts))
        return cls(m, h, d, mo, w, any_day=parts[2] == "*", any_weekday=parts[4] == "*")

    def _day_ok(self, day: datetime) -> bool:
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return dow
        if self.any_weekday:
            return dom
        return dom or dow

    def next_after(self, epoch: float) -> float | None:
        """The first run strictly after `epoch` (UTC), or None within `HORIZON_DAYS`."""
        t = datetime.fromtimestamp(epoch, UTC).replace(second=0, microsecond=0)
        t += timedelta(minutes=1)
        end = t + timedelta(days=HORIZON_DAYS)
        while t < end:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_ok(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t.timestamp()
        return None
