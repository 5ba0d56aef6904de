"""CPU time and resident memory of a process tree, read from /proc (Linux only).

CPU: utime + stime of the process and of its live descendants, plus cutime + cstime (children
already reaped), in clock ticks. Memory: VmRSS summed over the tree, and VmHWM (peak RSS) of
the main process. Nothing here uses psutil so the measuring side stays independent of what is
measured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return text[text.rindex(")") + 2 :].split()


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def descendants(pid: int) -> list[int]:
    """Live descendants of `pid` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            ppid = parent_of(int(entry.name))
            if ppid is not None:
                children.setdefault(ppid, []).append(int(entry.name))
    result, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            result.append(child)
            todo.append(child)
    return result


def cpu_ticks(pid: int, *, include_reaped: bool = True) -> int:
    """utime + stime (+ cutime + cstime) of one process; 0 when it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0
    # After the command name: state=0 ... utime=11, stime=12, cutime=13, cstime=14.
    ticks = int(fields[11]) + int(fields[12])
    if include_reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def status_kib(pid: int, key: str) -> int:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM); 0 when absent or gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class TreeUsage:
    """Accumulates samples of one process tree between `start()` and `stop()`."""

    pid: int
    start_ticks: int = 0
    start_time: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    rss_kib_samples: list[int] = field(default_factory=list)
    hwm_kib: int = 0

    def tree_ticks(self) -> int:
        return cpu_ticks(self.pid) + sum(
            cpu_ticks(p, include_reaped=False) for p in descendants(self.pid)
        )

    def tree_rss_kib(self) -> int:
        return status_kib(self.pid, "VmRSS") + sum(
            status_kib(p, "VmRSS") for p in descendants(self.pid)
        )

    def start(self, now: float) -> None:
        self.start_ticks, self.start_time = self.tree_ticks(), now

    def sample(self) -> None:
        self.rss_kib_samples.append(self.tree_rss_kib())
        self.hwm_kib = max(self.hwm_kib, status_kib(self.pid, "VmHWM"))

    def stop(self, now: float) -> None:
        self.cpu_seconds = (self.tree_ticks() - self.start_ticks) / CLOCK_TICKS_PER_SECOND
        self.wall_seconds = now - self.start_time

    @property
    def cpu_percent(self) -> float:
        """Percent of one core over the measured window."""
        return 100 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def rss_mib_avg(self) -> float:
        samples = self.rss_kib_samples or [0]
        return sum(samples) / len(samples) / 1024

    @property
    def rss_mib_max(self) -> float:
        return max([*self.rss_kib_samples, self.hwm_kib, 0]) / 1024
