"""Local threshold alerts for `fleetwatch top` (T2): what is over its limit right now.

Stateless: every snapshot is judged on its own (no duration, hysteresis or cooldown; those
belong to the hub's alert engine, H5). Defaults follow seed 004 (memory 80/90 %, disk 85/95 %)
and extend it to CPU (85/95 %) and swap (80/90 %). A value at or above a threshold fires it.
A watched process with no running instance is critical.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WARNING = "WARNING"
CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class Threshold:
    """Warning and critical limits in percent (0-100)."""

    warning_percent: float
    critical_percent: float

    def level(self, percent: float) -> str | None:
        if percent >= self.critical_percent:
            return CRITICAL
        if percent >= self.warning_percent:
            return WARNING
        return None


DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "cpu": Threshold(85.0, 95.0),
    "memory": Threshold(80.0, 90.0),
    "swap": Threshold(80.0, 90.0),
    "disk": Threshold(85.0, 95.0),
}


@dataclass(frozen=True)
class LocalAlert:
    level: str  # WARNING | CRITICAL
    component: str  # "cpu", "memory", "swap", "disk /var", "process nginx"
    value_percent: float | None
    threshold_percent: float | None
    message: str


def _check(
    component: str, label: str, percent: Any, threshold: Threshold | None
) -> LocalAlert | None:
    if threshold is None or not isinstance(percent, int | float):
        return None
    level = threshold.level(float(percent))
    if level is None:
        return None
    limit = threshold.critical_percent if level == CRITICAL else threshold.warning_percent
    adjective = "Critical" if level == CRITICAL else "High"
    message = f"{adjective} {label}: {percent:.1f}% (threshold: {limit:g}%)"
    return LocalAlert(level, component, float(percent), limit, message)


def evaluate(
    snapshot: Mapping[str, Any], thresholds: Mapping[str, Threshold] | None = None
) -> list[LocalAlert]:
    """The alerts active in `snapshot`, critical ones first, then by component."""
    limits = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    metrics: Mapping[str, Any] = snapshot.get("metrics") or {}
    swap: Mapping[str, Any] = metrics.get("swap") or {}
    candidates = [
        _check("cpu", "CPU usage", metrics.get("cpu_percent"), limits.get("cpu")),
        _check("memory", "memory usage", metrics.get("memory_percent"), limits.get("memory")),
    ]
    if swap.get("total_bytes"):  # no swap configured is not "0 % used" worth judging
        candidates.append(_check("swap", "swap usage", swap.get("percent"), limits.get("swap")))
    for disk in metrics.get("disks") or []:
        mount = str(disk.get("mountpoint", "?"))
        label = f"disk usage on {mount}"
        candidates.append(_check(f"disk {mount}", label, disk.get("percent"), limits.get("disk")))
    alerts = [a for a in candidates if a is not None]
    for name, entry in (snapshot.get("watched_processes") or {}).items():
        if not entry.get("alive"):
            message = f"Watched process {name!r} is not running"
            alerts.append(LocalAlert(CRITICAL, f"process {name}", None, None, message))
    alerts.sort(key=lambda a: (a.level != CRITICAL, a.component))
    return alerts
