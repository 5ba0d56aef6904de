"""B2: the agent's own footprint, and backing off the costly families when over budget.

Each cycle the governor measures the agent's CPU time since the previous cycle (all threads,
live sampler included) as % of one core, smoothed over the last cycles, and its RSS. Over
`budget_cpu_percent` the costly families — the process scan (≈ 90 % of a collection's cost),
sensors and GPUs — are read only every k-th cycle, k doubling up to `MAX_SCAN_EVERY`; once
under half the budget k halves again. Skipped cycles repeat the last reading (`Postponed`).
The snapshot's `agent` section shows the figures, `process_scan_every` and `over_budget`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fleetwatch import __version__

log = logging.getLogger("fleetwatch.agent.budget")

#: The longest the process scan is postponed: every 16th cycle.
MAX_SCAN_EVERY = 16

#: What a skipped cycle adds to a postponed family's `collection.sources` detail.
SKIPPED_DETAIL = "read skipped this cycle (agent over CPU budget)"

T = TypeVar("T")

#: (cpu seconds used so far by this process, resident bytes) — the data source.
SelfSampler = Callable[[], tuple[float, int]]


def psutil_self_sampler() -> SelfSampler:
    """Reads this process's CPU times and RSS through psutil."""
    import psutil

    proc = psutil.Process()

    def sample() -> tuple[float, int]:
        times = proc.cpu_times()
        return times.user + times.system, int(proc.memory_info().rss)

    return sample


class BudgetGovernor:
    """Decides, cycle by cycle, whether the process scan runs; reports the agent's footprint."""

    def __init__(
        self,
        sampler: SelfSampler | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sample = sampler or psutil_self_sampler()
        self._clock = clock
        self._last_cpu, self.rss_bytes = self._sample()
        self._last_at = clock()
        self.cpu_percent: float | None = None  # smoothed, % of one core
        self.scan_every = 1
        self.over_budget = False
        self._since_scan = 0

    def measure(self) -> None:
        """Take a reading: CPU % since the previous one (smoothed) and the current RSS."""
        cpu, self.rss_bytes = self._sample()
        now = self._clock()
        elapsed = now - self._last_at
        if elapsed > 0:
            current = max(0.0, (cpu - self._last_cpu) / elapsed * 100.0)
            previous = self.cpu_percent
            self.cpu_percent = current if previous is None else 0.5 * previous + 0.5 * current
        self._last_cpu, self._last_at = cpu, now

    def decide(self, budget_cpu_percent: float, budget_rss_mb: float) -> bool:
        """Measure, adapt the scan interval, and say whether this cycle scans processes."""
        self.measure()
        cpu = self.cpu_percent
        over_rss = self.rss_bytes > budget_rss_mb * 1024 * 1024
        over_cpu = cpu is not None and cpu > budget_cpu_percent
        if over_cpu and self.scan_every < MAX_SCAN_EVERY:
            self.scan_every *= 2
            log.warning(
                "agent CPU %.2f%% of a core is over the budget of %g%%: "
                "scanning processes every %d cycles",
                cpu,
                budget_cpu_percent,
                self.scan_every,
            )
        elif cpu is not None and cpu < budget_cpu_percent / 2 and self.scan_every > 1:
            self.scan_every //= 2
            log.info(
                "agent CPU back under budget: scanning processes every %d cycles", self.scan_every
            )
        if over_rss and not self.over_budget:
            log.warning(
                "agent RSS %.1f MiB is over the budget of %g MiB",
                self.rss_bytes / 1048576,
                budget_rss_mb,
            )
        self.over_budget = over_cpu or over_rss
        if self._since_scan + 1 >= self.scan_every:
            self._since_scan = 0
            return True
        self._since_scan += 1
        return False

    def report(self) -> dict[str, Any]:
        """The snapshot's `agent` section (protocol `AgentSelf`)."""
        return {
            "version": __version__,
            "cpu_percent": None if self.cpu_percent is None else round(self.cpu_percent, 3),
            "rss_bytes": self.rss_bytes,
            "process_scan_every": self.scan_every,
            "over_budget": self.over_budget,
        }


class Postponed(Generic[T]):
    """A family the budget can postpone: its last (reading, source status), repeated on the
    cycles the governor skips; the status detail then says the reading is a repeat."""

    def __init__(self) -> None:
        self._last: tuple[T, dict[str, Any]] | None = None

    def collect(
        self, run: bool, read: Callable[[], tuple[T, dict[str, Any]]]
    ) -> tuple[T, dict[str, Any]]:
        """`read()` when `run` (or nothing was read yet), else the last reading again."""
        if run or self._last is None:
            self._last = read()
            return self._last
        reading, status = self._last
        detail = status.get("detail")
        return reading, {
            **status,
            "detail": f"{detail}; {SKIPPED_DETAIL}" if detail else SKIPPED_DETAIL,
        }
