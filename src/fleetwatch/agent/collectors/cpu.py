"""A1: CPU busy % (total and per core), frequency, core counts and load average.

Busy % comes from two readings of the cumulative CPU times, so each `CpuCollector` keeps its
own previous reading (the full snapshot and the live sampler each have one). On the very
first reading the percentages are the average since boot, the same thing `top` shows in its
first frame, rather than a meaningless 0.

Core counts and the maximum frequency practically never change: read every 60 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fleetwatch.agent.rates import busy_percent

STATIC_REFRESH_SECONDS = 60.0


def _mhz(value: float | None) -> float | None:
    """Frequencies of 0 mean "unknown" in psutil (virtual machines)."""
    return round(float(value), 1) if value and value > 0 else None


class CpuCollector:
    """Reads CPU figures from a psutil-like module."""

    def __init__(self, psutil_module: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.psutil = psutil_module
        self._clock = clock
        self._previous: list[dict[str, float]] | None = None
        self._static: dict[str, Any] = {}
        self._static_at: float | None = None

    def _static_info(self) -> dict[str, Any]:
        now = self._clock()
        if self._static_at is None or now - self._static_at >= STATIC_REFRESH_SECONDS:
            self._static_at = now
            freq = self.psutil.cpu_freq()
            self._static = {
                "count_logical": self.psutil.cpu_count(logical=True),
                "count_physical": self.psutil.cpu_count(logical=False),
                "freq_max_mhz": _mhz(freq.max) if freq else None,
            }
        return self._static

    def percentages(self) -> tuple[float, list[float]]:
        """(total busy %, busy % per core) since the previous call (since boot on the first)."""
        current = [dict(t._asdict()) for t in self.psutil.cpu_times(percpu=True)]
        previous = self._previous
        if previous is None or len(previous) != len(current):
            previous = [dict.fromkeys(times, 0.0) for times in current]
        self._previous = current
        per_core = [busy_percent(b, a) for b, a in zip(previous, current, strict=True)]
        total = busy_percent(_sum_times(previous), _sum_times(current))
        return round(total or 0.0, 1), [round(p or 0.0, 1) for p in per_core]

    def current_mhz(self) -> float | None:
        freq = self.psutil.cpu_freq()
        return _mhz(freq.current) if freq else None

    def load(self) -> tuple[float, float, float] | None:
        getloadavg = getattr(self.psutil, "getloadavg", None)
        if getloadavg is None:
            return None
        one, five, fifteen = getloadavg()
        return round(one, 2), round(five, 2), round(fifteen, 2)

    def collect(self) -> dict[str, Any]:
        """The `cpu` object of a snapshot (`Cpu` model), percent first."""
        total, per_core = self.percentages()
        static = self._static_info()
        load = self.load()
        return {
            "percent": total,
            "per_core_percent": per_core,
            "count_logical": static["count_logical"],
            "count_physical": static["count_physical"],
            "freq_current_mhz": self.current_mhz(),
            "freq_max_mhz": static["freq_max_mhz"],
            "load_1": load[0] if load else None,
            "load_5": load[1] if load else None,
            "load_15": load[2] if load else None,
        }


def _sum_times(per_core: list[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for times in per_core:
        for key, value in times.items():
            total[key] = total.get(key, 0.0) + value
    return total
