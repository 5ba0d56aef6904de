"""Assembling full snapshots (`collect`) and live samples (`collect_live`) from the collectors.

The result is a plain dict in the shape of `fleetwatch.protocol.models.Snapshot` /
`LiveSample` (the agent never imports pydantic; contract tests validate the dicts).
Each family is isolated: an unreadable source costs only its own metrics, adds one line to
`collection.warnings` and is logged once, never raised. `collect()` and `collect_live()`
(`fleetwatch.agent.live_sample`) each keep their own counter state, so rates are always
between two calls of the same kind.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fleetwatch import __version__
from fleetwatch.agent.budget import Postponed
from fleetwatch.agent.collectors import guarded
from fleetwatch.agent.collectors.command import Runner, run_command
from fleetwatch.agent.collectors.containers import ContainerCollector
from fleetwatch.agent.collectors.cpu import CpuCollector
from fleetwatch.agent.collectors.disks import DiskCollector
from fleetwatch.agent.collectors.gpu import GpuCollector, GpuSources, load_pynvml
from fleetwatch.agent.collectors.memory import read_memory, read_swap
from fleetwatch.agent.collectors.network import NetworkCollector
from fleetwatch.agent.collectors.process_psutil import PsutilProcessSource
from fleetwatch.agent.collectors.processes import ProcessCollector, Scan
from fleetwatch.agent.collectors.sensors import SensorCollector
from fleetwatch.agent.collectors.services import ServiceCollector, ServiceSources
from fleetwatch.agent.collectors.system import SystemCollector
from fleetwatch.agent.collectors.watched import find_watched
from fleetwatch.agent.live_sample import LiveSampler, now_iso
from fleetwatch.agent.procfs import LinuxProcessSource, ProcessSource
from fleetwatch.protocol.version import PROTOCOL_VERSION

log = logging.getLogger("fleetwatch.agent.collect")
_MAX_LOGGED = 1000
#: Longest lists the protocol accepts (`fleetwatch.protocol.models.Snapshot`).
_LIST_LIMITS = {"services": 5000, "gpus": 64, "containers": 5000}
T = TypeVar("T")


def _default_psutil() -> Any:
    import psutil

    return psutil


@dataclass
class Sources:
    """Every data source of the agent, injectable for tests (fake /proc, NVML, tools, ...)."""

    psutil: Any = field(default_factory=_default_psutil)
    proc_root: Path | None = field(
        default_factory=lambda: Path("/proc") if sys.platform.startswith("linux") else None
    )
    os_release_path: Path = Path("/etc/os-release")
    nvml_loader: Callable[[], Any | None] = load_pynvml
    gpu_runner: Runner = run_command
    service_runner: Runner = run_command
    systemd_dir: Path = Path("/run/systemd/system")
    platform: str = sys.platform
    docker_socket: str | None = None  # overrides the `docker_socket` config key when set
    self_pid: int = field(default_factory=os.getpid)
    clock: Callable[[], float] = time.monotonic
    services_in_background: bool = True


@dataclass
class CollectionStats:
    """Figures about full-snapshot collection (`collect()` calls only), for status views."""

    cycles: int = 0
    last_duration_ms: float = 0.0
    total_duration_ms: float = 0.0
    warnings_total: int = 0
    last_warnings: list[str] = field(default_factory=list)


class SnapshotCollector:
    """Builds snapshots and live samples; `reconfigure` applies a new validated config."""

    def __init__(self, config: Mapping[str, Any], *, sources: Sources | None = None) -> None:
        self.sources = src = sources or Sources()
        ps, clock = src.psutil, src.clock
        self._errors: tuple[type[BaseException], ...] = (OSError, getattr(ps, "Error", OSError))
        self.process_source: ProcessSource = (
            LinuxProcessSource(src.proc_root)
            if src.proc_root is not None and (src.proc_root / "stat").exists()
            else PsutilProcessSource(ps)
        )
        self._cpu = CpuCollector(ps, clock=clock)
        self._disks = DiskCollector(ps, clock=clock)
        self._net = NetworkCollector(ps, clock=clock)
        self._live = LiveSampler(ps, self.process_source, self._errors, clock=clock)
        self._processes = ProcessCollector(self.process_source, clock=clock)
        self._system = SystemCollector(ps, os_release_path=src.os_release_path, clock=clock)
        self._sensors = SensorCollector(ps, clock=clock)
        self._services = ServiceCollector(
            ServiceSources(src.service_runner, src.systemd_dir, ps, src.platform),
            background=src.services_in_background,
            clock=clock,
        )
        self._gpu = GpuCollector(GpuSources(src.nvml_loader, src.gpu_runner), clock=clock)
        self._containers: ContainerCollector | None = None
        self._logged: set[str] = set()
        self._last_scan: tuple[list[dict[str, Any]], dict[str, Any], int, int] | None = None
        #: B2 hook: the daemon sets this False on the cycles its budget skips; the process
        #: scan, sensors and GPUs then repeat their last reading.
        self.scan_processes = True
        self._postponed_sensors = Postponed[dict[str, Any] | None]()
        self._postponed_gpus = Postponed[list[dict[str, Any]]]()
        self.stats = CollectionStats()
        self.config: dict[str, Any] = {}
        self.reconfigure(config)

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Apply a (validated) agent config; caches depending on changed keys are dropped."""
        self.config = dict(config)
        self._services.configure(
            list(config.get("monitored_services", [])),
            bool(config.get("auto_discover_services", True)),
        )
        socket_path = self.sources.docker_socket or str(
            config.get("docker_socket", "/var/run/docker.sock")
        )
        if self._containers is None or self._containers.socket_path != socket_path:
            self._containers = ContainerCollector(socket_path, clock=self.sources.clock)

    # --- helpers ----------------------------------------------------------------------

    def _guard(self, family: str, warn: Callable[[str], None], fn: Callable[[], T]) -> T | None:
        return guarded(self._errors, family, warn, fn)

    def _finish_warnings(self, warnings: list[str]) -> None:
        for message in warnings:
            if message not in self._logged and len(self._logged) < _MAX_LOGGED:
                self._logged.add(message)
                log.warning("%s (reported once)", message)

    def prime(self) -> None:
        """Take counter baselines for `collect()` so its first percentages and rates cover
        the time since this call rather than since boot (`fleetwatch agent snapshot`)."""
        ignore: Callable[[str], None] = lambda _message: None  # noqa: E731
        self._guard("cpu", ignore, self._cpu.percentages)
        self._guard("processes", ignore, self._processes.scan)
        self._guard("network", ignore, lambda: self._net.collect([], ignore))
        self._disks.io(ignore)

    # --- full snapshot ----------------------------------------------------------------

    def collect(self) -> dict[str, Any]:
        """One full snapshot (`Snapshot` model shape)."""
        started = time.perf_counter()
        warnings: list[str] = []
        warn = warnings.append
        sources: dict[str, dict[str, Any]] = {}
        metrics = self._metrics(warn)
        system = self._guard("system", warn, lambda: self._system.collect(self._net.addresses()))
        if system is not None:
            metrics["uptime_seconds"] = system["uptime_seconds"]
            metrics["boot_time"] = system["boot_time"]
        processes, watched = self._process_families(metrics, warn, sources)
        snapshot: dict[str, Any] = {
            "protocol_version": PROTOCOL_VERSION,
            "snapshot_id": uuid.uuid4().hex,
            "collected_at": now_iso(),
            "metrics": metrics,
            "processes": processes,
            "services": [],
            "system": system,
            "watched_processes": watched,
            "gpus": [],
            "containers": [],
        }
        self._optional_families(snapshot, warn, sources)
        # The daemon adds its own footprint figures (B2) to this section.
        snapshot["agent"] = {"version": __version__}
        duration_ms = round((time.perf_counter() - started) * 1000.0, 2)
        snapshot["collection"] = {
            "duration_ms": duration_ms,
            "sources": sources,
            "warnings": [w[:4096] for w in warnings[:256]],
        }
        self._finish_warnings(warnings)
        self.stats.cycles += 1
        self.stats.last_duration_ms = duration_ms
        self.stats.total_duration_ms += duration_ms
        self.stats.warnings_total += len(warnings)
        self.stats.last_warnings = list(warnings)
        return snapshot

    def _metrics(self, warn: Callable[[str], None]) -> dict[str, Any]:
        ps = self.sources.psutil
        cpu = self._guard("cpu", warn, self._cpu.collect)
        memory = self._guard("memory", warn, lambda: read_memory(ps))
        swap = self._guard("swap", warn, lambda: read_swap(ps))
        disks = self._guard(
            "disks",
            warn,
            lambda: self._disks.partitions(self.config.get("watched_paths", []), warn),
        )
        network = self._guard(
            "network",
            warn,
            lambda: self._net.collect(self.config.get("watched_interfaces", []), warn),
        )
        totals, interfaces = network if network is not None else ({}, [])
        return {
            "cpu_percent": cpu["percent"] if cpu else 0.0,
            "memory_total": memory["total_bytes"] if memory else 0,
            "memory_used": memory["used_bytes"] if memory else 0,
            "memory_free": memory["free_bytes"] if memory else 0,
            "memory_percent": memory["percent"] if memory else 0.0,
            "disks": disks or [],
            "network": totals,
            "uptime_seconds": None,
            "boot_time": None,
            "cpu": cpu,
            "memory": memory,
            "swap": swap,
            "disk_io": self._guard("disk_io", warn, lambda: self._disks.io(warn)),
            "interfaces": interfaces,
        }

    def _process_families(
        self, metrics: dict[str, Any], warn: Callable[[str], None], sources: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        sources["processes"] = {"source": self.process_source.name, "detail": None}
        if not self.scan_processes and self._last_scan is not None:
            processes, watched, count, threads = self._last_scan
            sources["processes"]["detail"] = "scan skipped this cycle (agent over CPU budget)"
        else:
            scan: Scan | None = self._guard("processes", warn, self._processes.scan)
            if scan is None:
                sources["processes"] = {"source": "none", "detail": "process scan failed"}
                return [], {}
            total = int(metrics["memory_total"])
            processes = self._processes.top(
                scan, int(self.config.get("top_processes_count", 15)), total
            )
            watched = find_watched(
                self._processes,
                scan,
                list(self.config.get("watched_processes", [])),
                total,
                self_pid=self.sources.self_pid,
            )
            count, threads = len(scan.procs), scan.thread_count
            self._last_scan = (processes, watched, count, threads)
        metrics["process_count"] = count
        metrics["thread_count"] = threads
        metrics["handle_count"] = self._guard("handles", warn, self.process_source.handle_count)
        return processes, watched

    def _optional_families(
        self, snapshot: dict[str, Any], warn: Callable[[str], None], sources: dict[str, Any]
    ) -> None:
        config, run = self.config, self.scan_processes
        if config.get("sensors_enabled", True):
            reading, sources["sensors"] = self._postponed_sensors.collect(
                run, lambda: self._sensors.collect(warn)
            )
            snapshot["metrics"]["sensors"] = reading
        else:
            sources["sensors"] = {"source": "none", "detail": "sensors_enabled is false"}
        snapshot["services"], sources["services"] = self._services.collect(warn)
        if config.get("gpu_enabled", True):
            snapshot["gpus"], sources["gpu"] = self._postponed_gpus.collect(
                run, lambda: self._gpu.collect(warn)
            )
        else:
            sources["gpu"] = {"source": "none", "detail": "gpu_enabled is false"}
        if config.get("containers_enabled", True) and self._containers is not None:
            snapshot["containers"], sources["containers"] = self._containers.collect(warn)
        else:
            sources["containers"] = {"source": "none", "detail": "containers_enabled is false"}
        # Protocol bounds: a huge host must still produce a snapshot the hub accepts.
        for key, limit in _LIST_LIMITS.items():
            snapshot[key] = snapshot[key][:limit]
        for status in sources.values():
            if status.get("detail"):
                status["detail"] = status["detail"][:4096]

    # --- live sample ------------------------------------------------------------------

    def collect_live(self) -> dict[str, Any]:
        """One live sample (`LiveSample` model shape); rates are 0 on the first call."""
        warnings: list[str] = []
        sample = self._live.sample(warnings.append)
        self._finish_warnings(warnings)
        return sample
