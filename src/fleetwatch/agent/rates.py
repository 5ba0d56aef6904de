"""Per-second rates from cumulative counters: the one place the agent turns counters into rates.

Rules (the same for every family):

* the first sample of a counter has no rate (`None`): there is nothing to compare with;
* a counter that went *down* was reset or wrapped (interface re-created, driver reloaded,
  32-bit wrap, host rebooted under a container): the rate is `None` for that sample and the
  new value becomes the baseline. We do not guess a wrap width, because a guess that is wrong
  produces exactly the absurd spike an operator would be paged for;
* elapsed time must be positive (a clock that stepped back gives `None`, not a negative rate).

Time comes from a monotonic clock passed in by the caller, so tests control it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

#: Below this many seconds between two samples a rate is too noisy to report.
MIN_INTERVAL_SECONDS = 0.001


def rate_per_second(previous: float, current: float, elapsed_seconds: float) -> float | None:
    """Rate between two readings of one counter; `None` on a reset/wrap or a bad interval."""
    if elapsed_seconds < MIN_INTERVAL_SECONDS or current < previous:
        return None
    return (current - previous) / elapsed_seconds


class RateTracker(Generic[K]):
    """Remembers the last value of many counters and turns new values into rates.

    Keys are anything hashable, e.g. `("eth0", "bytes_recv")`. Keys not seen in an update
    are forgotten, so an interface that disappears and returns later starts fresh.
    """

    def __init__(self) -> None:
        self._values: dict[K, float] = {}
        self._time: float | None = None

    def update(self, counters: Mapping[K, float], now_seconds: float) -> dict[K, float | None]:
        """Record `counters` read at monotonic time `now_seconds`; return a rate per key."""
        previous, previous_time = self._values, self._time
        self._values = dict(counters)
        self._time = now_seconds
        if previous_time is None:
            return dict.fromkeys(counters)
        elapsed = now_seconds - previous_time
        rates: dict[K, float | None] = {}
        for key, value in counters.items():
            before = previous.get(key)
            rates[key] = None if before is None else rate_per_second(before, value, elapsed)
        return rates

    def reset(self) -> None:
        """Forget every baseline: the next update has no rates."""
        self._values = {}
        self._time = None


def busy_percent(previous: Mapping[str, float], current: Mapping[str, float]) -> float | None:
    """CPU busy % between two readings of cumulative CPU times (seconds per state).

    Idle is `idle` + `iowait`; `guest`/`guest_nice` are already counted in `user`/`nice` on
    Linux, so they are left out of the total. Returns `None` when no time passed or a counter
    went backwards (the CPU went offline and came back); the result is clamped to 0–100.
    """
    total_before = _cpu_total(previous)
    total_now = _cpu_total(current)
    idle_before = previous.get("idle", 0.0) + previous.get("iowait", 0.0)
    idle_now = current.get("idle", 0.0) + current.get("iowait", 0.0)
    delta_total = total_now - total_before
    delta_idle = idle_now - idle_before
    if delta_total <= 0 or delta_idle < 0:
        return None
    busy = (delta_total - delta_idle) / delta_total * 100.0
    return min(100.0, max(0.0, busy))


def _cpu_total(times: Mapping[str, float]) -> float:
    return sum(v for k, v in times.items() if k not in ("guest", "guest_nice"))
