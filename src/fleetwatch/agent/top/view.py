"""Rendering of `fleetwatch top` (T2): one frame from a snapshot, with rich.

`render_frame` is a pure function of a snapshot dict (shape of `protocol.models.Snapshot`), the
collection statistics and the active local alerts; the command decides when to collect and how
to show frames (live screen or one frame on stdout). Compact mode fits a small terminal; the
detailed mode adds per-core CPU, disk I/O, network packets/errors/drops, watched processes,
services, sensors, GPUs and containers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from fleetwatch.agent.top import details
from fleetwatch.agent.top.alerts import CRITICAL, DEFAULT_THRESHOLDS, LocalAlert
from fleetwatch.agent.top.format import (
    bar,
    fit,
    human_bytes,
    human_count,
    human_duration,
    human_rate,
    percent_text,
    section_table,
)

#: Every line fits an 80-column terminal: long names are cut to these widths (compact,
#: detailed), and the compact disks and network tables go side by side only when they fit.
MOUNT_WIDTH = (20, 18)
DEVICE_WIDTH = 14
FSTYPE_WIDTH = 5
HOST_WIDTH = 14
INTERFACE_WIDTH = 10
COMPACT_PROCESSES = 5
DETAILED_PROCESSES = 15


def _header(snapshot: Mapping[str, Any], detailed: bool) -> Text:
    system: Mapping[str, Any] = snapshot.get("system") or {}
    metrics: Mapping[str, Any] = snapshot.get("metrics") or {}
    cpu: Mapping[str, Any] = metrics.get("cpu") or {}
    parts = [
        fit(str(system.get("hostname", "?")), HOST_WIDTH),
        f"up {human_duration(metrics.get('uptime_seconds'))}",
        "load " + " ".join(f"{cpu.get(k) or 0:.2f}" for k in ("load_1", "load_5", "load_15")),
        f"{metrics.get('process_count', '-')} procs",
        datetime.now().strftime("%H:%M:%S"),
        "detailed" if detailed else "compact",
        # last: on a narrow terminal the line is cut here rather than wrapped
        str(system.get("os_release") or system.get("os") or "") if detailed else "",
    ]
    line = "  ".join(p for p in parts if p)
    return Text(line, style="bold", no_wrap=True, overflow="ellipsis")


def _resources(metrics: Mapping[str, Any], detailed: bool) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    cpu: Mapping[str, Any] = metrics.get("cpu") or {}
    memory: Mapping[str, Any] = metrics.get("memory") or {}
    swap: Mapping[str, Any] = metrics.get("swap") or {}
    cores = f"{cpu.get('count_logical', '?')} cores"
    freq = cpu.get("freq_current_mhz")
    cpu_note = f"{cores} @ {freq:.0f} MHz" if freq else cores
    t = DEFAULT_THRESHOLDS
    table.add_row("CPU", bar(metrics.get("cpu_percent"), threshold=t["cpu"]), cpu_note)
    used = memory.get("used_bytes", metrics.get("memory_used"))
    total = memory.get("total_bytes", metrics.get("memory_total"))
    mem_note = f"{human_bytes(used)} / {human_bytes(total)}"
    table.add_row("Memory", bar(metrics.get("memory_percent"), threshold=t["memory"]), mem_note)
    swap_note = f"{human_bytes(swap.get('used_bytes'))} / {human_bytes(swap.get('total_bytes'))}"
    table.add_row("Swap", bar(swap.get("percent"), threshold=t["swap"]), swap_note)
    if detailed:
        for index, percent in enumerate(cpu.get("per_core_percent") or []):
            table.add_row(f"  core {index}", bar(percent, threshold=t["cpu"]), "")
    return table


def _disks(metrics: Mapping[str, Any], detailed: bool) -> Table:
    columns = ["Mount", "Device", "Type"] if detailed else ["Mount"]
    table = section_table("Disks", *columns, "Used", "Total", "Use", right=("Used", "Total"))
    for disk in metrics.get("disks") or []:
        cells = [fit(str(disk.get("mountpoint", "")), MOUNT_WIDTH[detailed])]
        if detailed:
            cells += [
                fit(str(disk.get("device", "")), DEVICE_WIDTH),
                fit(str(disk.get("fstype", "")), FSTYPE_WIDTH),
            ]
        percent = disk.get("percent")
        cells += [human_bytes(disk.get("used")), human_bytes(disk.get("total"))]
        limit = DEFAULT_THRESHOLDS["disk"]
        use = percent_text(percent, limit) if detailed else bar(percent, 10, limit)
        table.add_row(*cells, use)
    io: Mapping[str, Any] = metrics.get("disk_io") or {}
    if io:
        read, write = (
            human_rate(io.get("read_bytes_per_sec")),
            human_rate(io.get("write_bytes_per_sec")),
        )
        table.caption = f"I/O read {read}  write {write}"
        if detailed:
            iops = (io.get("read_count_per_sec"), io.get("write_count_per_sec"))
            table.caption += "  IOPS " + " / ".join("-" if v is None else f"{v:.0f}" for v in iops)
    return table


def _network(metrics: Mapping[str, Any], detailed: bool) -> Table:
    extra = ["Pkts/s", "Errors", "Drops"] if detailed else []
    columns = ["Interface", "Recv/s", "Sent/s", *extra]
    table = section_table("Network", *columns, right=columns[1:])
    for nic in metrics.get("interfaces") or []:
        cells = [
            fit(str(nic.get("name", "")), INTERFACE_WIDTH),
            human_rate(nic.get("bytes_recv_per_sec")),
            human_rate(nic.get("bytes_sent_per_sec")),
        ]
        if detailed:
            packets = [nic.get(k) for k in ("packets_recv_per_sec", "packets_sent_per_sec")]
            cells.append("/".join(human_count(v) for v in packets))
            for pair in (("errin", "errout"), ("dropin", "dropout")):
                cells.append("/".join(human_count(nic.get(k, 0)) for k in pair))
        table.add_row(*cells)
    if detailed:
        table.caption = "packets, errors, drops: in/out"
    return table


def _processes(snapshot: Mapping[str, Any], limit: int) -> Table:
    columns = ("PID", "Name", "CPU %", "Mem %", "RSS", "Status", "User")
    table = section_table("Top processes", *columns, right=("PID", "CPU %", "Mem %", "RSS"))
    procs = sorted(
        snapshot.get("processes") or [],
        key=lambda p: (p.get("cpu_percent") or 0, p.get("memory_mb") or 0),
        reverse=True,
    )
    for proc in procs[:limit]:
        table.add_row(
            str(proc.get("pid", "")),
            str(proc.get("name", ""))[:28],
            f"{proc.get('cpu_percent') or 0:.1f}",
            f"{proc.get('memory_percent') or 0:.1f}",
            human_bytes((proc.get("memory_mb") or 0) * 1024 * 1024),
            str(proc.get("status") or ""),
            str(proc.get("username") or ""),
        )
    return table


def _alerts(alerts: Sequence[LocalAlert]) -> RenderableType:
    if not alerts:
        return Text("Alerts: none active", style="green")
    table = section_table(f"Alerts ({len(alerts)} active)", "Level", "Component", "Message")
    for alert in alerts:
        style = "bold red" if alert.level == CRITICAL else "yellow"
        table.add_row(Text(alert.level, style=style), alert.component, alert.message)
    return table


def _statistics(snapshot: Mapping[str, Any], stats: Mapping[str, Any] | None) -> Text:
    stats = stats or {}
    cycles = int(stats.get("cycles") or 0)
    total_ms = float(stats.get("total_duration_ms") or 0.0)
    last_ms = stats.get("last_duration_ms")
    if last_ms is None:
        last_ms = (snapshot.get("collection") or {}).get("duration_ms")
    avg = f"{total_ms / cycles:.1f} ms" if cycles else "-"
    last = "-" if last_ms is None else f"{float(last_ms):.1f} ms"
    warnings = stats.get(
        "warnings_total", len((snapshot.get("collection") or {}).get("warnings") or [])
    )
    return Text(f"Collection: {cycles} cycles  last {last}  avg {avg}  warnings {warnings}")


def _storage_and_network(metrics: Mapping[str, Any], detailed: bool) -> list[RenderableType]:
    """Detailed: one below the other; compact: side by side to save lines."""
    disks, network = _disks(metrics, detailed), _network(metrics, detailed)
    if detailed:
        return [disks, network]
    return [_SideBySide(disks, network)]


class _SideBySide:
    """Two tables side by side when the terminal is wide enough, else one below the other."""

    GAP = 4

    def __init__(self, left: Table, right: Table) -> None:
        self.left, self.right = left, right

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = [Measurement.get(console, options, t).maximum for t in (self.left, self.right)]
        if sum(widths) + self.GAP <= options.max_width:
            row = Table.grid(padding=(0, self.GAP))
            row.add_row(self.left, self.right)
            yield row
        else:
            yield self.left
            yield self.right


def render_frame(
    snapshot: Mapping[str, Any],
    stats: Mapping[str, Any] | None,
    alerts: Sequence[LocalAlert],
    *,
    detailed: bool = False,
    footer: str | None = None,
) -> RenderableType:
    """One frame of `fleetwatch top`; `footer` replaces the collection statistics line."""
    metrics: Mapping[str, Any] = snapshot.get("metrics") or {}
    parts: list[RenderableType | None] = [
        _header(snapshot, detailed),
        _resources(metrics, detailed),
        *_storage_and_network(metrics, detailed),
        _processes(snapshot, DETAILED_PROCESSES if detailed else COMPACT_PROCESSES),
    ]
    if detailed:
        parts += [
            details.watched(snapshot),
            details.services(snapshot),
            details.sensors(metrics),
            details.gpus(snapshot),
            details.containers(snapshot),
        ]
    last = Text(footer, no_wrap=True, overflow="ellipsis") if footer else None
    parts += [_alerts(alerts), last or _statistics(snapshot, stats)]
    return Group(*(p for p in parts if p is not None))
