"""A1: every mounted partition, explicitly watched paths, and whole-host disk I/O.

Sizes are bytes with `df`'s meaning: `free` is what an unprivileged user can still write
(`f_bavail`), `percent` is used / (used + free). The list of partitions is re-read every 30 s
(mounts rarely change); usage is read every call (one `statvfs` per mount).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from fleetwatch.agent.collectors import Warn
from fleetwatch.agent.rates import RateTracker

PARTITIONS_REFRESH_SECONDS = 30.0
_IO_FIELDS = ("read_bytes", "write_bytes", "read_count", "write_count")


class DiskCollector:
    """Partitions + watched paths (`disks`) and I/O counters with rates (`disk_io`)."""

    def __init__(self, psutil_module: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.psutil = psutil_module
        self._clock = clock
        self._partitions: list[tuple[str, str, str]] = []
        self._partitions_at: float | None = None
        self._io_rates: RateTracker[str] = RateTracker()

    def _partition_list(self) -> list[tuple[str, str, str]]:
        now = self._clock()
        if self._partitions_at is None or now - self._partitions_at >= PARTITIONS_REFRESH_SECONDS:
            seen: set[str] = set()
            partitions = []
            for part in self.psutil.disk_partitions(all=False):
                if part.mountpoint not in seen:
                    seen.add(part.mountpoint)
                    partitions.append((part.device, part.mountpoint, part.fstype))
            self._partitions, self._partitions_at = partitions, now
        return self._partitions

    def _usage(self, device: str, path: str, fstype: str, watched: bool) -> dict[str, Any]:
        usage = self.psutil.disk_usage(path)
        return {
            "device": device[:255],
            "mountpoint": path[:255],
            "fstype": fstype[:255],
            "total": int(usage.total),
            "used": int(usage.used),
            "free": int(usage.free),
            "percent": round(min(100.0, max(0.0, float(usage.percent))), 1),
            "watched": watched,
        }

    def partitions(self, watched_paths: list[str], warn: Warn) -> list[dict[str, Any]]:
        """Usage of every partition, then of each watched path that is not a mountpoint."""
        try:
            partitions = self._partition_list()
        except OSError as exc:
            warn(f"disks: cannot list partitions: {exc}")
            partitions = []
        watched = {os.path.normpath(p) for p in watched_paths}
        disks: list[dict[str, Any]] = []
        for device, mountpoint, fstype in partitions:
            try:
                disks.append(self._usage(device, mountpoint, fstype, mountpoint in watched))
            except OSError as exc:
                warn(f"disks: cannot read usage of {mountpoint}: {exc.strerror or exc}")
        mounted = {d["mountpoint"] for d in disks}
        for path in watched_paths:
            path = os.path.normpath(path)
            if path in mounted:
                continue
            device, fstype = _containing_partition(path, partitions)
            try:
                disks.append(self._usage(device, path, fstype, True))
            except OSError as exc:
                warn(f"disks: watched path {path}: {exc.strerror or exc}")
            mounted.add(path)
        return disks

    def io(self, warn: Warn) -> dict[str, Any] | None:
        """Host-wide disk I/O counters and per-second rates (`DiskIO` model)."""
        try:
            counters = self.psutil.disk_io_counters(perdisk=False)
        except OSError as exc:
            warn(f"disk_io: cannot read I/O counters: {exc}")
            return None
        if counters is None:
            return None  # no disks the OS reports I/O for (some containers)
        values = {name: float(getattr(counters, name)) for name in _IO_FIELDS}
        rates = self._io_rates.update(values, self._clock())
        result: dict[str, Any] = {f"{name}_total": int(v) for name, v in values.items()}
        for name in _IO_FIELDS:
            rate = rates[name]
            result[f"{name}_per_sec"] = None if rate is None else round(rate, 1)
        return result


def _containing_partition(path: str, partitions: list[tuple[str, str, str]]) -> tuple[str, str]:
    """(device, fstype) of the partition a path lives on: the longest matching mountpoint."""
    best: tuple[str, str, str] | None = None
    for part in partitions:
        mount = part[1]
        inside = path == mount or path.startswith(mount.rstrip(os.sep) + os.sep)
        if inside and (best is None or len(mount) > len(best[1])):
            best = part
    return (best[0], best[2]) if best else ("", "")
