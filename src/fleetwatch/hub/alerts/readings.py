"""Alert readings from a *stored* snapshot document (what `codec.unpack` gives back).

The engine evaluates snapshots read back from the store (so snapshots ingested by any hub
process reach the one engine that runs), and validating each document into a `Snapshot` again
would cost more than the evaluation itself. These readers are the dict twins of the readers
in `metrics.py` (same targets, same values); `tests/unit/alerts/test_readings.py` checks that
they agree on the same snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fleetwatch.hub.alerts.metrics import GIB, MANUAL_START, MBIT, STOPPED_STATES, Reading

Doc = dict[str, Any]


def _cpu(d: Doc) -> Reading:
    return [(None, float(d["metrics"]["cpu_percent"]))]


def _memory(d: Doc) -> Reading:
    return [(None, float(d["metrics"]["memory_percent"]))]


def _swap(d: Doc) -> Reading:
    swap = d["metrics"].get("swap")
    if not swap or swap.get("total_bytes", 0) <= 0:
        return []
    return [(None, float(swap["percent"]))]


def _load(d: Doc) -> Reading:
    cpu = d["metrics"].get("cpu")
    if not cpu or cpu.get("load_1") is None or not cpu.get("count_logical"):
        return []
    return [(None, cpu["load_1"] / cpu["count_logical"])]


def _disk_percent(d: Doc) -> Reading:
    return [(disk["mountpoint"], float(disk["percent"])) for disk in d["metrics"]["disks"]]


def _disk_free(d: Doc) -> Reading:
    return [(disk["mountpoint"], disk["free"] / GIB) for disk in d["metrics"]["disks"]]


def _gpu_temp(d: Doc) -> Reading:
    gpus = d.get("gpus") or ()
    return [
        (str(g["index"]), float(g["temperature_celsius"]))
        for g in gpus
        if g.get("temperature_celsius")
    ]


def _process_down(d: Doc) -> Reading:
    watched = d.get("watched_processes") or {}
    return [(name, 0.0 if p.get("alive") else 1.0) for name, p in watched.items()]


def _service_stopped(d: Doc) -> Reading:
    out: Reading = []
    for svc in d.get("services") or ():
        if svc.get("discovered") or (svc.get("start_type") or "").lower() in MANUAL_START:
            continue  # as `metrics._service_stopped`: only services someone asked to watch
        stopped = str(svc.get("status", "")).lower() in STOPPED_STATES
        out.append((svc["service_name"], 1.0 if stopped else 0.0))
    return out


def _interface_rate(field: str, scale: float = 1.0) -> Callable[[Doc], Reading]:
    def read(d: Doc) -> Reading:
        out: Reading = []
        for nic in d["metrics"].get("interfaces") or ():
            value = nic.get(field)
            if value is not None:
                out.append((nic["name"], value * scale))
        return out

    return read


READERS: dict[str, Callable[[Doc], Reading]] = {
    "cpu_percent": _cpu,
    "memory_percent": _memory,
    "swap_percent": _swap,
    "load_per_core": _load,
    "disk_percent": _disk_percent,
    "disk_free_gb": _disk_free,
    "gpu_temperature_celsius": _gpu_temp,
    "interface_errors_per_sec": _interface_rate("errors_per_sec"),
    "interface_drops_per_sec": _interface_rate("drops_per_sec"),
    "interface_recv_mbps": _interface_rate("bytes_recv_per_sec", MBIT),
    "interface_sent_mbps": _interface_rate("bytes_sent_per_sec", MBIT),
    "process_down": _process_down,
    "service_stopped": _service_stopped,
}


def read_doc(doc: Doc, metrics: Iterable[str]) -> dict[str, Reading]:
    """Readings of `metrics` (snapshot metrics only) from one stored snapshot document."""
    return {metric: READERS[metric](doc) for metric in metrics}
