"""When a snapshot says it was taken: parsed, and checked against the hub's clock (26.9).

An agent's `collected_at` is believed within a window around the moment the hub receives it:
at most `max_clock_skew_seconds` (hub setting, 1 day by default) ahead, and no older than
what the store still keeps (raw retention, so a backlog replayed after an outage is taken, but
year 0001 is not). Outside the window it is a 422 naming the field and the agent's clock, and
nothing of the request is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fleetwatch.errors import FleetwatchError


class BadTimestamp(FleetwatchError):
    def __init__(self, field: str, value: str, problem: str = "is not an ISO 8601 time") -> None:
        self.field = field
        super().__init__(f"{field}: {value!r} {problem}")


@dataclass(frozen=True)
class TimeWindow:
    """The `collected_at` times the hub accepts, relative to when it received the request."""

    received_at: float
    ahead_seconds: float
    behind_seconds: float

    def check(self, ts: float, field: str, value: str) -> None:
        if ts > self.received_at + self.ahead_seconds:
            ahead = (ts - self.received_at) / 3600
            raise BadTimestamp(
                field, value,
                f"is {ahead:.1f} h ahead of the hub's clock (at most "
                f"{self.ahead_seconds / 3600:g} h is accepted; check the agent's clock)",
            )  # fmt: skip
        if ts < self.received_at - self.behind_seconds:
            behind = (self.received_at - ts) / 3600
            raise BadTimestamp(
                field, value,
                f"is {behind:.1f} h before the hub's clock, older than the store keeps "
                f"({self.behind_seconds / 3600:g} h; check the agent's clock)",
            )  # fmt: skip


def parse_time(
    value: str | None, field: str, default: float, window: TimeWindow | None = None
) -> float:
    """ISO 8601 -> epoch seconds (naive times are UTC); `default` when absent."""
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadTimestamp(field, value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        ts = parsed.timestamp()
    except (OverflowError, ValueError, OSError):
        raise BadTimestamp(field, value, "is out of range") from None
    if window is not None:
        window.check(ts, field, value)
    return ts
