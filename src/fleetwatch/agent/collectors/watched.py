"""A2: watched processes, matched the way seed 002 (odin-control's system status) does.

For each configured pattern:

1. a process matches when the pattern is a substring of its name or of any command-line
   argument;
2. zombies, stopped and dead processes are skipped;
3. the agent never matches itself, anything it spawned (`systemctl`, `nvidia-smi`, ...) or
   the `fleetwatch` command that started it (its command line holds the pattern too);
4. a match that has children is a wrapper (`stFrameProcessor1.sh` starting the real binary):
   it resolves to its first child, the one started earliest;
5. each instance reports cpu %, affinity, mem %, RSS, VMS and shared bytes; `alive` is true
   when at least one instance remains.
"""

from __future__ import annotations

import os
from typing import Any

from fleetwatch.agent.collectors.processes import ProcessCollector, Scan, memory_percent
from fleetwatch.agent.procfs import ProcStat

SKIPPED_STATUSES = frozenset({"zombie", "stopped", "dead"})
MAX_INSTANCES = 1024  # the protocol's bound per watched name


def excluded_pids(collector: ProcessCollector, scan: Scan, self_pid: int) -> set[int]:
    """The agent, its descendants, and ancestors that are the `fleetwatch` command itself."""
    excluded = {self_pid}
    stack = [self_pid]
    while stack:
        for child in scan.children.get(stack.pop(), []):
            if child.pid not in excluded:
                excluded.add(child.pid)
                stack.append(child.pid)
    proc = scan.by_pid.get(self_pid)
    while proc is not None and proc.ppid > 1:
        parent = scan.by_pid.get(proc.ppid)
        if parent is None or parent.pid in excluded or not _is_fleetwatch(collector, parent):
            break
        excluded.add(parent.pid)
        proc = parent
    return excluded


def _is_fleetwatch(collector: ProcessCollector, proc: ProcStat) -> bool:
    return any("fleetwatch" in arg for arg in collector.cmdline(proc)[:3])


def _matches(collector: ProcessCollector, proc: ProcStat, pattern: str) -> bool:
    if pattern in proc.name or pattern in collector.full_name(proc):
        return True
    return any(pattern in arg for arg in collector.cmdline(proc))


def _resolve(scan: Scan, proc: ProcStat) -> ProcStat | None:
    """The wrapper's first live child, or the process itself when it has no children."""
    children = [c for c in scan.children.get(proc.pid, []) if c.status not in SKIPPED_STATUSES]
    if not scan.children.get(proc.pid):
        return proc
    if not children:
        return None  # only zombie children: the wrapped program is gone
    return min(children, key=lambda c: (c.start_key, c.pid))


def find_watched(
    collector: ProcessCollector,
    scan: Scan,
    patterns: list[str],
    memory_total_bytes: int,
    *,
    self_pid: int | None = None,
) -> dict[str, dict[str, Any]]:
    """`watched_processes` of a snapshot: `{pattern: {"alive": bool, "instances": [...]}}`."""
    if not patterns:
        return {}
    excluded = excluded_pids(collector, scan, os.getpid() if self_pid is None else self_pid)
    candidates = [
        p for p in scan.procs if p.pid not in excluded and p.status not in SKIPPED_STATUSES
    ]
    result: dict[str, dict[str, Any]] = {}
    for pattern in patterns:
        instances: dict[int, dict[str, Any]] = {}
        for proc in candidates:
            if not _matches(collector, proc, pattern):
                continue
            target = _resolve(scan, proc)
            if target is None or target.pid in excluded or target.pid in instances:
                continue
            instance = _instance(collector, scan, target, memory_total_bytes)
            if instance is not None:
                instances[target.pid] = instance
        ordered = [instances[pid] for pid in sorted(instances)][:MAX_INSTANCES]
        result[pattern[:255]] = {"alive": bool(ordered), "instances": ordered}
    return result


def _instance(
    collector: ProcessCollector, scan: Scan, proc: ProcStat, memory_total_bytes: int
) -> dict[str, Any] | None:
    try:
        details = collector.source.details(proc.pid)
    except OSError:
        return None  # exited, or access denied: seed 002 drops such processes too
    rss = details.rss_bytes if details.rss_bytes is not None else proc.rss_bytes
    return {
        "pid": proc.pid,
        "name": collector.full_name(proc)[:255],
        "cpu_percent": round(min(scan.cpu_percent.get(proc.pid, 0.0), 100_000.0), 1),
        "cpu_affinity": details.cpu_affinity,
        "memory_percent": round(memory_percent(rss, memory_total_bytes), 2),
        "memory_rss_bytes": rss,
        "memory_vms_bytes": details.vms_bytes if details.vms_bytes is not None else proc.vms_bytes,
        "memory_shared_bytes": details.shared_bytes,
    }
