"""A2: the process scan, per-process CPU %, counts and the top-N table (seed-001 shape).

CPU % is computed from consecutive scans of the same collector (user+system seconds consumed
per wall second, × 100, so a process using two cores shows 200 %, like psutil). A process not
seen in the previous scan (the first scan, a new process, a reused pid) gets its lifetime
average instead of a meaningless 0.

Expensive details (command line, user) are fetched only for rows that are reported and are
cached per process (pid + start time), so a steady host costs one `stat` read per process.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetwatch.agent.procfs import ProcessSource, ProcStat

try:
    import pwd
except ImportError:  # Windows
    pwd = None  # type: ignore[assignment]

_MIB = 1024 * 1024
#: Linux truncates process names to 15 characters; the full name comes from the command line.
_COMM_LENGTH = 15


@dataclass
class Scan:
    """One scan: every process, its CPU %, and the children of each pid."""

    procs: list[ProcStat]
    cpu_percent: dict[int, float]
    by_pid: dict[int, ProcStat] = field(default_factory=dict)
    children: dict[int, list[ProcStat]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for proc in self.procs:
            self.by_pid[proc.pid] = proc
            self.children.setdefault(proc.ppid, []).append(proc)

    @property
    def thread_count(self) -> int:
        return sum(p.num_threads for p in self.procs)


class ProcessCollector:
    """Scans processes through a `ProcessSource` and keeps CPU state between scans."""

    def __init__(
        self, source: ProcessSource, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.source = source
        self._clock = clock
        self._previous: dict[int, tuple[float, float]] = {}  # pid -> (start_key, cpu_seconds)
        self._previous_time: float | None = None
        self._cmdlines: dict[tuple[int, float], list[str]] = {}
        self._users: dict[tuple[int, float], str | None] = {}
        self._uid_names: dict[int, str | None] = {}

    def scan(self) -> Scan:
        """Scan every process (raises `OSError` only when the source itself is unreadable)."""
        procs = self.source.scan()
        now = self._clock()
        elapsed = None if self._previous_time is None else now - self._previous_time
        cpu: dict[int, float] = {}
        current: dict[int, tuple[float, float]] = {}
        for proc in procs:
            before = self._previous.get(proc.pid)
            if before is not None and before[0] == proc.start_key and elapsed and elapsed > 0:
                percent = (proc.cpu_seconds - before[1]) / elapsed * 100.0
            elif proc.age_seconds > 0:
                percent = proc.cpu_seconds / proc.age_seconds * 100.0
            else:
                percent = 0.0
            cpu[proc.pid] = max(0.0, percent)
            current[proc.pid] = (proc.start_key, proc.cpu_seconds)
        self._previous, self._previous_time = current, now
        self._prune({(p.pid, p.start_key) for p in procs})
        return Scan(procs, cpu)

    def _prune(self, alive: set[tuple[int, float]]) -> None:
        for cache in (self._cmdlines, self._users):
            for key in [k for k in cache if k not in alive]:
                del cache[key]

    def cmdline(self, proc: ProcStat) -> list[str]:
        """The command line (cached per process); empty for kernel threads or when denied."""
        key = (proc.pid, proc.start_key)
        cached = self._cmdlines.get(key)
        if cached is None:
            try:
                cached = self.source.cmdline(proc.pid)
            except OSError:
                cached = []
            self._cmdlines[key] = cached
        return cached

    def full_name(self, proc: ProcStat) -> str:
        """The process name, completed from the command line when the kernel truncated it."""
        if len(proc.name) < _COMM_LENGTH:
            return proc.name
        args = self.cmdline(proc)
        if args:
            base = os.path.basename(args[0])
            if base.startswith(proc.name):
                return base
        return proc.name

    def username(self, proc: ProcStat) -> str | None:
        key = (proc.pid, proc.start_key)
        if key not in self._users:
            try:
                details = self.source.details(proc.pid)
            except OSError:
                details = None
            name = None
            if details is not None:
                name = details.username
                if name is None and details.uid is not None:
                    name = self._uid_name(details.uid)
            self._users[key] = name
        return self._users[key]

    def _uid_name(self, uid: int) -> str | None:
        if uid not in self._uid_names:
            try:
                self._uid_names[uid] = pwd.getpwuid(uid).pw_name if pwd else None
            except KeyError:
                self._uid_names[uid] = str(uid)
        return self._uid_names[uid]

    def top(self, scan: Scan, count: int, memory_total_bytes: int) -> list[dict[str, Any]]:
        """Top `count` by CPU, then top `count` by memory not already listed (seed-001 rows)."""
        if count <= 0:
            return []
        by_cpu = heapq.nlargest(
            count, scan.procs, key=lambda p: (scan.cpu_percent[p.pid], p.rss_bytes)
        )
        by_memory = heapq.nlargest(count, scan.procs, key=lambda p: p.rss_bytes)
        seen: set[int] = set()
        rows: list[dict[str, Any]] = []
        for proc in [*by_cpu, *by_memory]:
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            rows.append(self._row(proc, scan.cpu_percent[proc.pid], memory_total_bytes))
        return rows

    def _row(self, proc: ProcStat, cpu_percent: float, memory_total_bytes: int) -> dict[str, Any]:
        args = self.cmdline(proc)
        return {
            "pid": proc.pid,
            "name": self.full_name(proc)[:255],
            "cpu_percent": round(min(cpu_percent, 100_000.0), 1),
            "memory_percent": round(memory_percent(proc.rss_bytes, memory_total_bytes), 2),
            "memory_mb": round(proc.rss_bytes / _MIB, 1),
            "status": proc.status,
            "username": self.username(proc),
            "num_threads": proc.num_threads,
            "cmdline": " ".join(args)[:4096] if args else None,
        }


def memory_percent(rss_bytes: int, memory_total_bytes: int) -> float:
    """RSS as % of physical memory, clamped to 0–100."""
    if memory_total_bytes <= 0:
        return 0.0
    return min(100.0, max(0.0, rss_bytes / memory_total_bytes * 100.0))
