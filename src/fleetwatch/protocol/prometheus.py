"""A snapshot as Prometheus metrics: names, units, labels (the agent's `GET /metrics`, A11,
and the hub's, H11, which adds `server_id`, `hostname` and `group` to every series).

Names follow Prometheus conventions: prefix `fleetwatch_`, base units in the name (`_bytes`,
`_seconds`, `_hertz`, `_celsius`, `_watts`, `_ratio` for 0..1 fractions — percentages are
divided by 100), cumulative counters end in `_total`, and `*_info` gauges (value 1) carry
descriptive labels. Per-process CPU ratios are fractions of one core (they exceed 1 on busy
multi-threaded processes). Rates are not exported: Prometheus computes them from the counters.
The full list is in `docs/agent.md`. Samples go to a `Sink`: the agent's hand-written
`agent.exposition.Exposition`, the hub's `prometheus_client` collector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol


class Sink(Protocol):
    def add(
        self,
        name: str,
        kind: str,
        help_text: str,
        value: object,
        labels: Mapping[str, object] | None = None,
    ) -> None: ...


MIB = 1024 * 1024
PCT = 0.01
MHZ = 1e6

# (metric name, field, scale, help) for the gauges of one snapshot node.
Spec = tuple[str, str, float, str]

_CPU: tuple[Spec, ...] = (
    ("cpu_usage_ratio", "percent", PCT, "CPU busy time over the last interval, all cores."),
    ("cpu_logical_cores", "count_logical", 1, "Logical CPUs."),
    ("cpu_physical_cores", "count_physical", 1, "Physical CPU cores."),
    ("cpu_frequency_hertz", "freq_current_mhz", MHZ, "Current CPU frequency."),
    ("cpu_frequency_max_hertz", "freq_max_mhz", MHZ, "Maximum CPU frequency (absent if unknown)."),
    ("load1", "load_1", 1, "Load average over 1 minute."),
    ("load5", "load_5", 1, "Load average over 5 minutes."),
    ("load15", "load_15", 1, "Load average over 15 minutes."),
)
_MEMORY: tuple[Spec, ...] = (
    ("memory_total_bytes", "total_bytes", 1, "Physical memory."),
    ("memory_used_bytes", "used_bytes", 1, "Memory in use."),
    ("memory_free_bytes", "free_bytes", 1, "Unused memory."),
    ("memory_available_bytes", "available_bytes", 1, "Memory available without swapping."),
    ("memory_usage_ratio", "percent", PCT, "Memory in use, fraction of total."),
)
_SWAP: tuple[Spec, ...] = (
    ("swap_total_bytes", "total_bytes", 1, "Swap space."),
    ("swap_used_bytes", "used_bytes", 1, "Swap in use."),
    ("swap_free_bytes", "free_bytes", 1, "Unused swap."),
    ("swap_usage_ratio", "percent", PCT, "Swap in use, fraction of total."),
)
_FILESYSTEM: tuple[Spec, ...] = (
    ("filesystem_size_bytes", "total", 1, "Filesystem size."),
    ("filesystem_used_bytes", "used", 1, "Filesystem space in use."),
    ("filesystem_free_bytes", "free", 1, "Filesystem space free for unprivileged users."),
    ("filesystem_usage_ratio", "percent", PCT, "Filesystem space in use, fraction."),
)
_DISK_IO: tuple[Spec, ...] = (
    ("disk_read_bytes_total", "read_bytes_total", 1, "Bytes read from all disks."),
    ("disk_written_bytes_total", "write_bytes_total", 1, "Bytes written to all disks."),
    ("disk_reads_total", "read_count_total", 1, "Read operations on all disks."),
    ("disk_writes_total", "write_count_total", 1, "Write operations on all disks."),
)
_INTERFACE: tuple[Spec, ...] = (
    ("network_receive_bytes_total", "bytes_recv", 1, "Bytes received."),
    ("network_transmit_bytes_total", "bytes_sent", 1, "Bytes sent."),
    ("network_receive_packets_total", "packets_recv", 1, "Packets received."),
    ("network_transmit_packets_total", "packets_sent", 1, "Packets sent."),
    ("network_receive_errors_total", "errin", 1, "Receive errors."),
    ("network_transmit_errors_total", "errout", 1, "Transmit errors."),
    ("network_receive_drop_total", "dropin", 1, "Incoming packets dropped."),
    ("network_transmit_drop_total", "dropout", 1, "Outgoing packets dropped."),
    ("network_up", "is_up", 1, "1 when the interface is up."),
    ("network_speed_bytes", "speed_mbps", 1e6 / 8, "Link speed in bytes per second."),
    ("network_mtu_bytes", "mtu", 1, "Maximum transmission unit."),
)
_TOP_PROCESS: tuple[Spec, ...] = (
    ("top_process_cpu_ratio", "cpu_percent", PCT, "Top process CPU, fraction of one core."),
    ("top_process_memory_ratio", "memory_percent", PCT, "Top process memory, fraction of RAM."),
    ("top_process_resident_memory_bytes", "memory_mb", MIB, "Top process resident memory."),
    ("top_process_threads", "num_threads", 1, "Top process threads."),
)
_WATCHED: tuple[Spec, ...] = (
    ("watched_process_cpu_ratio", "cpu_percent", PCT, "Watched instance CPU, fraction of a core."),
    ("watched_process_memory_ratio", "memory_percent", PCT, "Watched instance memory fraction."),
    ("watched_process_resident_memory_bytes", "memory_rss_bytes", 1, "Resident memory (RSS)."),
    ("watched_process_virtual_memory_bytes", "memory_vms_bytes", 1, "Virtual memory (VMS)."),
    ("watched_process_shared_memory_bytes", "memory_shared_bytes", 1, "Shared memory."),
)
_GPU: tuple[Spec, ...] = (
    ("gpu_memory_total_bytes", "memory_total_bytes", 1, "GPU memory."),
    ("gpu_memory_used_bytes", "memory_used_bytes", 1, "GPU memory in use."),
    ("gpu_memory_free_bytes", "memory_free_bytes", 1, "GPU memory free."),
    ("gpu_utilization_ratio", "utilization_percent", PCT, "GPU busy fraction."),
    ("gpu_temperature_celsius", "temperature_celsius", 1, "GPU temperature."),
    ("gpu_power_draw_watts", "power_draw_watts", 1, "GPU power draw."),
    ("gpu_power_limit_watts", "power_limit_watts", 1, "GPU power limit."),
)
_CONTAINER: tuple[Spec, ...] = (
    ("container_cpu_ratio", "cpu_percent", PCT, "Container CPU, fraction of one core."),
    ("container_memory_used_bytes", "memory_used_bytes", 1, "Container memory in use."),
    ("container_memory_limit_bytes", "memory_limit_bytes", 1, "Container memory limit."),
)
_AGENT: tuple[Spec, ...] = (
    ("agent_cpu_ratio", "cpu_percent", PCT, "The agent's own CPU, fraction of one core."),
    ("agent_resident_memory_bytes", "rss_bytes", 1, "The agent's own resident memory."),
    ("agent_over_budget", "over_budget", 1, "1 when the agent is over its CPU/memory budget."),
    ("agent_process_scan_every", "process_scan_every", 1, "Process/sensor/GPU reads every N."),
)
_SENSOR: tuple[Spec, ...] = (
    ("temperature_celsius", "current_celsius", 1, "Sensor temperature."),
    ("temperature_high_celsius", "high_celsius", 1, "Sensor high threshold."),
    ("temperature_critical_celsius", "critical_celsius", 1, "Sensor critical threshold."),
    ("fan_speed_rpm", "rpm", 1, "Fan speed in revolutions per minute."),
)


def _emit(
    exp: Sink,
    node: Mapping[str, Any] | None,
    specs: Iterable[Spec],
    labels: Mapping[str, object] | None = None,
) -> None:
    if not node:
        return
    for name, key, scale, help_text in specs:
        value = node.get(key)
        if isinstance(value, bool) or value is None:
            scaled: object = value
        elif isinstance(value, int | float):
            scaled = value * scale if scale != 1 else value
        else:
            continue
        kind = "counter" if name.endswith("_total") else "gauge"
        exp.add(f"fleetwatch_{name}", kind, help_text, scaled, labels)


def iso_to_epoch(text: object) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (`None` when absent or unparsable)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _host(exp: Sink, snapshot: Mapping[str, Any], metrics: Mapping[str, Any]) -> None:
    system: Mapping[str, Any] = snapshot.get("system") or {}
    if system:
        info = {k: system.get(k) or "" for k in ("hostname", "os", "os_release", "kernel", "arch")}
        exp.add("fleetwatch_host_info", "gauge", "Host identity (value 1).", 1, info)
    boot = iso_to_epoch(metrics.get("boot_time") or system.get("boot_time"))
    exp.add("fleetwatch_boot_time_seconds", "gauge", "Boot time, seconds since epoch.", boot)
    uptime = metrics.get("uptime_seconds", system.get("uptime_seconds"))
    exp.add("fleetwatch_uptime_seconds", "gauge", "Seconds since boot.", uptime)
    exp.add("fleetwatch_processes", "gauge", "Processes.", metrics.get("process_count"))
    exp.add("fleetwatch_threads", "gauge", "Threads of all processes.", metrics.get("thread_count"))
    exp.add(
        "fleetwatch_handles",
        "gauge",
        "Open handles / file descriptors.",
        metrics.get("handle_count"),
    )
    collected = iso_to_epoch(snapshot.get("collected_at"))
    exp.add(
        "fleetwatch_snapshot_timestamp_seconds", "gauge", "When the snapshot was taken.", collected
    )


def _cpu(exp: Sink, metrics: Mapping[str, Any], per_core: bool = True) -> None:
    cpu = dict(metrics.get("cpu") or {"percent": metrics.get("cpu_percent")})
    if not cpu.get("freq_max_mhz"):
        cpu.pop("freq_max_mhz", None)  # 0 = unknown on many virtual machines
    _emit(exp, cpu, _CPU)
    for core, percent in enumerate(cpu.get("per_core_percent") or [] if per_core else []):
        exp.add(
            "fleetwatch_cpu_core_usage_ratio",
            "gauge",
            "CPU busy time over the last interval, per logical core.",
            percent * PCT,
            {"core": core},
        )


def _memory(exp: Sink, metrics: Mapping[str, Any]) -> None:
    memory = metrics.get("memory") or {
        "total_bytes": metrics.get("memory_total"),
        "used_bytes": metrics.get("memory_used"),
        "free_bytes": metrics.get("memory_free"),
        "percent": metrics.get("memory_percent"),
    }
    _emit(exp, memory, _MEMORY)
    _emit(exp, metrics.get("swap"), _SWAP)


def _storage_and_network(exp: Sink, metrics: Mapping[str, Any]) -> None:
    for disk in metrics.get("disks") or []:
        labels = {k: disk.get(k) or "" for k in ("device", "mountpoint", "fstype")}
        _emit(exp, disk, _FILESYSTEM, labels)
    _emit(exp, metrics.get("disk_io"), _DISK_IO)
    for interface in metrics.get("interfaces") or []:
        _emit(exp, interface, _INTERFACE, {"interface": interface.get("name") or ""})
    sensors: Mapping[str, Any] = metrics.get("sensors") or {}
    for reading in [*(sensors.get("temperatures") or []), *(sensors.get("fans") or [])]:
        labels = {"chip": reading.get("chip") or "", "label": reading.get("label") or ""}
        _emit(exp, reading, _SENSOR, labels)
    battery: Mapping[str, Any] = sensors.get("battery") or {}
    if battery:
        exp.add(
            "fleetwatch_battery_charge_ratio", "gauge", "Battery charge.", battery["percent"] * PCT
        )
        exp.add("fleetwatch_battery_plugged", "gauge", "1 on mains power.", battery.get("plugged"))
        left = battery.get("seconds_left")
        exp.add("fleetwatch_battery_remaining_seconds", "gauge", "Battery time left.", left)


def _processes(exp: Sink, snapshot: Mapping[str, Any]) -> None:
    for proc in snapshot.get("processes") or []:
        labels = {"pid": proc.get("pid"), "name": proc.get("name") or ""}
        _emit(exp, proc, _TOP_PROCESS, labels)
    for name, entry in (snapshot.get("watched_processes") or {}).items():
        instances = entry.get("instances") or []
        up_help = "1 when at least one instance of the watched process runs."
        exp.add(
            "fleetwatch_watched_process_up",
            "gauge",
            up_help,
            bool(entry.get("alive")),
            {"name": name},
        )
        exp.add(
            "fleetwatch_watched_process_instances",
            "gauge",
            "Running instances of the watched process.",
            len(instances),
            {"name": name},
        )
        for inst in instances:
            _emit(exp, inst, _WATCHED, {"name": name, "pid": inst.get("pid")})


def _services_gpus_containers(
    exp: Sink, snapshot: Mapping[str, Any], service_info: bool = True
) -> None:
    for svc in snapshot.get("services") or []:
        name = svc.get("service_name") or ""
        running = svc.get("status") == "running"
        exp.add(
            "fleetwatch_service_running",
            "gauge",
            "1 when the service runs.",
            running,
            {"service": name},
        )
        if service_info:
            info = {"service": name, "status": svc.get("status") or ""}
            info.update({k: svc.get(k) or "" for k in ("display_name", "start_type")})
            exp.add("fleetwatch_service_info", "gauge", "Service state (value 1).", 1, info)
    for gpu in snapshot.get("gpus") or []:
        info = {
            "gpu": gpu.get("index"),
            "name": gpu.get("name") or "",
            "uuid": gpu.get("uuid") or "",
        }
        info["driver_version"] = gpu.get("driver_version") or ""
        exp.add("fleetwatch_gpu_info", "gauge", "GPU identity (value 1).", 1, info)
        _emit(exp, gpu, _GPU, {"gpu": gpu.get("index")})
    for ctr in snapshot.get("containers") or []:
        labels = {"id": ctr.get("id") or "", "name": ctr.get("name") or ""}
        info = {**labels, "image": ctr.get("image") or "", "state": ctr.get("state") or ""}
        exp.add("fleetwatch_container_info", "gauge", "Container (value 1).", 1, info)
        running = ctr.get("state") == "running"
        exp.add("fleetwatch_container_running", "gauge", "1 when running.", running, labels)
        _emit(exp, ctr, _CONTAINER, labels)


def _collection(exp: Sink, snapshot: Mapping[str, Any], stats: Mapping[str, Any] | None) -> None:
    collection: Mapping[str, Any] = snapshot.get("collection") or {}
    if collection:
        duration = collection.get("duration_ms", 0) / 1000
        exp.add(
            "fleetwatch_collection_duration_seconds", "gauge", "Last collection time.", duration
        )
        warnings = len(collection.get("warnings") or [])
        exp.add(
            "fleetwatch_collection_warnings", "gauge", "Warnings of the last collection.", warnings
        )
        for family, source in (collection.get("sources") or {}).items():
            labels = {"family": family, "source": (source or {}).get("source") or ""}
            exp.add(
                "fleetwatch_collection_source_info", "gauge", "Data source per family.", 1, labels
            )
    if stats:
        exp.add(
            "fleetwatch_collection_cycles_total", "counter", "Collections run.", stats.get("cycles")
        )
        total_ms = stats.get("total_duration_ms")
        seconds = None if total_ms is None else total_ms / 1000
        exp.add("fleetwatch_collection_seconds_total", "counter", "Time spent collecting.", seconds)
        warnings_total = stats.get("warnings_total")
        exp.add(
            "fleetwatch_collection_warnings_total",
            "counter",
            "Collection warnings.",
            warnings_total,
        )
    agent: Mapping[str, Any] = snapshot.get("agent") or {}
    if agent:
        exp.add(
            "fleetwatch_agent_info",
            "gauge",
            "Agent version (value 1).",
            1,
            {"version": agent.get("version") or ""},
        )
        _emit(exp, agent, _AGENT)


def emit_snapshot(
    exp: Sink,
    snapshot: Mapping[str, Any],
    stats: Mapping[str, Any] | None = None,
    *,
    fleet: bool = False,
) -> None:
    """Every sample of one snapshot (and optional collection statistics) into `exp`.
    `fleet=True` (the hub's `/metrics`, every server at once) leaves out the top processes
    (a series per pid), the per-core CPU and the `fleetwatch_service_info` labels."""
    metrics: Mapping[str, Any] = snapshot.get("metrics") or {}
    _host(exp, snapshot, metrics)
    _cpu(exp, metrics, per_core=not fleet)
    _memory(exp, metrics)
    _storage_and_network(exp, metrics)
    if not fleet:
        _processes(exp, snapshot)
    _services_gpus_containers(exp, snapshot, service_info=not fleet)
    _collection(exp, snapshot, stats)
