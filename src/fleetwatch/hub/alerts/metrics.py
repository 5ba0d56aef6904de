"""The alertable metrics: what each one measures, its unit, and how to read it from a snapshot.

Per-target metrics (one value per mount, GPU, watched process, service) return one
`(target, value)` pair per target; whole-host metrics return `[(None, value)]` or `[]` when the
snapshot does not carry the number. Timer metrics (`offline`, `disk_full_days`,
`health_score`) are not read from a snapshot: the engine evaluates them on its timer. Readers
take a `SnapshotView`: the pydantic `Snapshot` (dry runs) or its msgspec twin (most committed
snapshots, via ingest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from fleetwatch.hub.events import SnapshotView

GIB = 1024**3
Reading = list[tuple[str | None, float]]
Comparison = Literal[">", "<"]

#: service states meaning "not running" (systemd, SysV, Windows spellings)
STOPPED_STATES = frozenset({"stopped", "error", "failed", "dead", "inactive", "exited"})
#: start types meaning "nobody expects it to run"; such services never alert
MANUAL_START = frozenset({"manual", "disabled", "demand", "masked", "static", "indirect"})


@dataclass(frozen=True)
class MetricSpec:
    name: str
    component: str
    unit: str
    comparison: Comparison
    per_target: bool
    source: Literal["snapshot", "timer"]
    label: str
    read: Callable[[SnapshotView], Reading] | None = None


def _cpu(s: SnapshotView) -> Reading:
    return [(None, s.metrics.cpu_percent)]


def _memory(s: SnapshotView) -> Reading:
    return [(None, s.metrics.memory_percent)]


def _swap(s: SnapshotView) -> Reading:
    swap = s.metrics.swap
    if swap is None or swap.total_bytes <= 0:
        return []
    return [(None, swap.percent)]


def _load(s: SnapshotView) -> Reading:
    cpu = s.metrics.cpu
    if cpu is None or cpu.load_1 is None or not cpu.count_logical:
        return []
    return [(None, cpu.load_1 / cpu.count_logical)]


def _disk_percent(s: SnapshotView) -> Reading:
    return [(d.mountpoint, d.percent) for d in s.metrics.disks]


def _disk_free(s: SnapshotView) -> Reading:
    return [(d.mountpoint, d.free / GIB) for d in s.metrics.disks]


def _gpu_temp(s: SnapshotView) -> Reading:
    return [(str(g.index), g.temperature_celsius) for g in s.gpus if g.temperature_celsius]


def _interface_rate(field: str, scale: float = 1.0) -> Callable[[SnapshotView], Reading]:
    """Per-interface reader of one rate field (interfaces without the rate yet are skipped)."""

    def read(s: SnapshotView) -> Reading:
        out: Reading = []
        for nic in s.metrics.interfaces:
            value = getattr(nic, field)
            if value is not None:
                out.append((nic.name, value * scale))
        return out

    return read


#: bytes per second -> megabits per second
MBIT = 8 / 1e6


def _process_down(s: SnapshotView) -> Reading:
    return [(name, 0.0 if p.alive else 1.0) for name, p in s.watched_processes.items()]


def _service_stopped(s: SnapshotView) -> Reading:
    out: Reading = []
    for svc in s.services:
        # quiet by default: only services someone asked to monitor, and never ones that
        # are not meant to run
        if svc.discovered or (svc.start_type or "").lower() in MANUAL_START:
            continue
        out.append((svc.service_name, 1.0 if svc.status.lower() in STOPPED_STATES else 0.0))
    return out


METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("cpu_percent", "cpu", "%", ">", False, "snapshot", "CPU usage", _cpu),
        MetricSpec(
            "memory_percent", "memory", "%", ">", False, "snapshot", "memory usage", _memory
        ),
        MetricSpec("swap_percent", "swap", "%", ">", False, "snapshot", "swap usage", _swap),
        MetricSpec("load_per_core", "load", "", ">", False, "snapshot", "load per core", _load),
        MetricSpec("disk_percent", "disk", "%", ">", True, "snapshot", "disk usage", _disk_percent),
        MetricSpec(
            "disk_free_gb", "disk", " GiB", "<", True, "snapshot", "disk free space", _disk_free
        ),
        MetricSpec(
            "gpu_temperature_celsius",
            "gpu",
            " °C",
            ">",
            True,
            "snapshot",
            "GPU temperature",
            _gpu_temp,
        ),
        MetricSpec(
            "interface_errors_per_sec",
            "network",
            " /s",
            ">",
            True,
            "snapshot",
            "interface errors",
            _interface_rate("errors_per_sec"),
        ),
        MetricSpec(
            "interface_drops_per_sec",
            "network",
            " /s",
            ">",
            True,
            "snapshot",
            "interface drops",
            _interface_rate("drops_per_sec"),
        ),
        MetricSpec(
            "interface_recv_mbps",
            "network",
            " Mbit/s",
            ">",
            True,
            "snapshot",
            "receive rate",
            _interface_rate("bytes_recv_per_sec", MBIT),
        ),
        MetricSpec(
            "interface_sent_mbps",
            "network",
            " Mbit/s",
            ">",
            True,
            "snapshot",
            "send rate",
            _interface_rate("bytes_sent_per_sec", MBIT),
        ),
        MetricSpec("process_down", "process", "", ">", True, "snapshot", "process", _process_down),
        MetricSpec(
            "service_stopped", "service", "", ">", True, "snapshot", "service", _service_stopped
        ),
        MetricSpec("offline", "server", " s", ">", False, "timer", "server offline"),
        MetricSpec("disk_full_days", "disk", " days", "<", True, "timer", "disk full forecast"),
        MetricSpec("health_score", "health", "", "<", False, "timer", "health score"),
    )
}

COMPONENTS: frozenset[str] = frozenset(m.component for m in METRICS.values())

#: Keys of `servers.thresholds` (seed-001 per-server thresholds) -> metric name.
THRESHOLD_PREFIXES: dict[str, str] = {
    "cpu": "cpu_percent",
    "memory": "memory_percent",
    "swap": "swap_percent",
    "disk": "disk_percent",
    "load": "load_per_core",
    "gpu_temperature": "gpu_temperature_celsius",
    "disk_free_gb": "disk_free_gb",
}


def message(
    spec: MetricSpec, level: str, value: float, threshold: float | None, target: str | None
) -> str:
    """Seed-004 style: "High memory usage: 85.5% (threshold: 80.0%)"."""
    where = f" on {target}" if target else ""
    if spec.name == "process_down":
        return f"Watched process {target} is not running"
    if spec.name == "service_stopped":
        return f"Service {target} is not running"
    if spec.name == "offline":
        return f"Server offline: last seen {value:.0f} s ago (threshold: {threshold:.0f} s)"
    if spec.name == "health_score":
        return f"Low health score: {value:.0f} (threshold: {threshold or 0:.0f})"
    if spec.name == "disk_full_days":
        return f"Disk{where} full in {value:.1f} days (threshold: {threshold:.1f} days)"
    adjective = ("Critical" if level == "CRITICAL" else "High") if spec.comparison == ">" else "Low"
    thr = f"{threshold:.1f}{spec.unit}" if threshold is not None else "n/a"
    return f"{adjective} {spec.label}{where}: {value:.1f}{spec.unit} (threshold: {thr})"
