"""Stream messages: seed 004's shapes from a committed snapshot or an alert event.

A snapshot becomes seed 004's `data` (`memory`, `processor`, `disk`, `system`, `gpu`) plus
fleetwatch's families (`disks`, `network`, `processes`, `services`, `containers`). Which keys a
client gets is its `families` filter; `system` (identity) always comes. Every message is JSON
text; times are ISO 8601 in UTC, as seed 004 writes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

#: what `subscribe.families` may name, and which `data` keys each one brings
FAMILY_KEYS: dict[str, tuple[str, ...]] = {
    "cpu": ("processor",),
    "memory": ("memory",),
    "disks": ("disk", "disks"),
    "network": ("network",),
    "processes": ("processes",),
    "services": ("services",),
    "gpu": ("gpu",),
    "containers": ("containers",),
    "alerts": (),
}
FAMILIES: frozenset[str] = frozenset(FAMILY_KEYS)
SNAPSHOT_FAMILIES: frozenset[str] = FAMILIES - {"alerts"}
#: opt-in, not in the default "everything": `live_data`, each live sample (1 s while somebody
#: watches the server, see live on demand)
LIVE = "live"
#: opt-in too: `log_lines`, the log lines agents ship (`logtail.py`)
LOGS = "logs"
KNOWN_FAMILIES: frozenset[str] = FAMILIES | {LIVE, LOGS}

Doc = Mapping[str, Any]


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).isoformat()


def encode(message: Mapping[str, Any]) -> str:
    return orjson.dumps(message).decode()


def error(code: str, message: str) -> str:
    return encode({"type": "error", "code": code, "message": message})


def _memory(m: Doc) -> dict[str, Any]:
    detail = m.get("memory") or {}
    available = detail.get("available_bytes")
    return {
        "total": m.get("memory_total"),
        "available": m.get("memory_free") if available is None else available,
        "used": m.get("memory_used"),
        "percentage": m.get("memory_percent"),
        "swap": m.get("swap"),
    }


def _processor(m: Doc) -> dict[str, Any]:
    cpu = m.get("cpu") or {}
    return {
        "usage_percent": m.get("cpu_percent"),
        "core_count": cpu.get("count_physical"),
        "logical_count": cpu.get("count_logical"),
        "frequency_current": cpu.get("freq_current_mhz"),
        "frequency_max": cpu.get("freq_max_mhz"),
        "per_core_usage": cpu.get("per_core_percent") or [],
        "load_average": [cpu.get("load_1"), cpu.get("load_5"), cpu.get("load_15")],
    }


def _disk(d: Doc) -> dict[str, Any]:
    return {
        "path": d.get("mountpoint"),
        "device": d.get("device"),
        "fstype": d.get("fstype"),
        "total": d.get("total"),
        "used": d.get("used"),
        "free": d.get("free"),
        "percentage": d.get("percent"),
    }


def _system(doc: Doc) -> dict[str, Any]:
    s = doc.get("system") or {}
    m = doc.get("metrics") or {}
    return {
        "os_name": s.get("os"),
        "os_version": s.get("kernel"),
        "os_release": s.get("os_release"),
        "architecture": s.get("arch"),
        "machine": s.get("arch"),
        "hostname": s.get("hostname"),
        "processes": m.get("process_count"),
        "boot_time": s.get("boot_time") or m.get("boot_time"),
        "uptime_seconds": s.get("uptime_seconds") or m.get("uptime_seconds"),
    }


def _gpu(doc: Doc) -> dict[str, Any]:
    gpus = [
        {
            "id": g.get("index"),
            "name": g.get("name"),
            "driver_version": g.get("driver_version"),
            "memory_total": g.get("memory_total_bytes"),
            "memory_used": g.get("memory_used_bytes"),
            "memory_free": g.get("memory_free_bytes"),
            "gpu_usage_percent": g.get("utilization_percent"),
            "temperature": g.get("temperature_celsius"),
            "power_draw": g.get("power_draw_watts"),
            "power_limit": g.get("power_limit_watts"),
        }
        for g in doc.get("gpus") or ()
    ]
    return {"count": len(gpus), "gpus": gpus}


def snapshot_data(doc: Doc, families: Iterable[str]) -> dict[str, Any]:
    """Seed 004's `data` for one snapshot document, with the keys of `families` only."""
    m = doc.get("metrics") or {}
    wanted = set(families)
    data: dict[str, Any] = {"system": _system(doc)}
    if "memory" in wanted:
        data["memory"] = _memory(m)
    if "cpu" in wanted:
        data["processor"] = _processor(m)
    if "disks" in wanted:
        disks = [_disk(d) for d in m.get("disks") or ()]
        root = next((d for d in disks if d["path"] == "/"), disks[0] if disks else None)
        data["disk"] = root
        data["disks"] = disks
    if "network" in wanted:
        data["network"] = {**(m.get("network") or {}), "interfaces": m.get("interfaces") or []}
    if "gpu" in wanted:
        data["gpu"] = _gpu(doc)
    for family in ("processes", "services", "containers"):
        if family in wanted:
            data[family] = doc.get(family) or []
    return data


def monitoring_data(server_id: str, ts: float, doc: Doc, families: Iterable[str]) -> str:
    """Seed 004's `monitoring_data` for one committed snapshot (`timestamp` = collected at)."""
    return encode(
        {
            "type": "monitoring_data",
            "timestamp": iso(ts),
            "server_id": server_id,
            "data": snapshot_data(doc, families),
        }
    )


def live_data(server_id: str, ts: float, sample: Doc) -> str:
    """A committed live sample (fleetwatch's, beyond seed 004), as the agent sent it."""
    return encode(
        {"type": "live_data", "timestamp": iso(ts), "server_id": server_id, "data": sample}
    )


def alert(kind: str, fields: Mapping[str, Any]) -> str:
    """An alert transition: seed 004's alert fields (`timestamp`, `component`, `metric`,
    `value`, `threshold`, `level`, `message`) plus fleetwatch's (`id`, `server_id`, ...)."""
    return encode({"type": "alert", "event": kind, "timestamp": iso(), "alert": dict(fields)})
