"""A6: one live sample (seed 001's `/api/metrics/live` body) with its own counter state.

Live samples are taken every 1–60 s, so they avoid the full process scan: on Linux the
process count is the number of pid directories and the thread count comes from `loadavg`.
Rates are null on the first sample (no earlier counter to take a difference from): a 0.0
there would draw a fake idle point at the start of every live chart (issue 26.4).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fleetwatch.agent.collectors import Warn, guarded
from fleetwatch.agent.collectors.cpu import CpuCollector
from fleetwatch.agent.collectors.disks import DiskCollector
from fleetwatch.agent.collectors.memory import read_memory, read_swap
from fleetwatch.agent.collectors.network import NetworkCollector
from fleetwatch.agent.procfs import LinuxProcessSource, ProcessSource
from fleetwatch.protocol.version import PROTOCOL_VERSION

_DISK_RATES = (
    "read_bytes_per_sec",
    "write_bytes_per_sec",
    "read_count_per_sec",
    "write_count_per_sec",
)


def now_iso() -> str:
    """The current time as ISO 8601 UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class LiveSampler:
    """Builds `LiveSample`-shaped dicts; keeps CPU, network and disk baselines of its own."""

    def __init__(
        self,
        psutil_module: Any,
        process_source: ProcessSource,
        errors: tuple[type[BaseException], ...],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.psutil = psutil_module
        self.process_source = process_source
        self._errors = errors
        self._cpu = CpuCollector(psutil_module, clock=clock)
        self._disks = DiskCollector(psutil_module, clock=clock)
        self._net = NetworkCollector(psutil_module, clock=clock)

    def sample(self, warn: Warn) -> dict[str, Any]:
        ps, errors = self.psutil, self._errors
        percentages = guarded(errors, "cpu", warn, self._cpu.percentages)
        memory = guarded(errors, "memory", warn, lambda: read_memory(ps)) or {}
        swap = guarded(errors, "swap", warn, lambda: read_swap(ps)) or {}
        net = guarded(errors, "network", warn, lambda: self._net.total_rates(warn)) or {}
        disk = guarded(errors, "disk_io", warn, lambda: self._disks.io(warn)) or {}
        counts = guarded(errors, "processes", warn, self._counts) or (0, 0)
        handles = guarded(errors, "handles", warn, self.process_source.handle_count)
        return {
            "protocol_version": PROTOCOL_VERSION,
            "sample_id": uuid.uuid4().hex,
            "collected_at": now_iso(),
            "cpu_percent": percentages[0] if percentages else 0.0,
            "cpu_per_core": percentages[1] if percentages else [],
            "cpu_freq_mhz": guarded(errors, "cpu", warn, self._cpu.current_mhz),
            "memory_percent": memory.get("percent", 0.0),
            "memory_used": memory.get("used_bytes", 0),
            "memory_available": memory.get("available_bytes") or 0,
            "swap_percent": swap.get("percent", 0.0),
            "swap_used": swap.get("used_bytes", 0),
            "network_rate": net,
            "disk_io_rate": {k: disk.get(k) for k in _DISK_RATES},
            "process_count": counts[0],
            "thread_count": counts[1],
            "handle_count": handles or 0,
        }

    def _counts(self) -> tuple[int, int]:
        """(processes, threads) without a full scan where the OS allows it."""
        source = self.process_source
        if isinstance(source, LinuxProcessSource):
            return len(source.pids()), source.task_count()
        procs = source.scan()
        return len(procs), sum(p.num_threads for p in procs)
