"""Test data factories (over fixture zoos). Each returns plain dicts shaped like the wire models.

`make_snapshot(**overrides)` gives a full, valid `protocol.models.Snapshot` dict; overrides are
merged recursively into dicts (so `make_snapshot(metrics={"cpu": {"percent": 97.0}})` changes one
number) and replace anything else (lists, scalars) as given; an empty dict replaces too
(`make_snapshot(watched_processes={})` means "none").
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

GIB = 1024**3
#: snapshots' default time: the start of the hour before last (always within the hub's
#: accepted window: recent, in the past, and the next hour is in the past too)
BASE_TS = float(int(time.time() // 3600) * 3600 - 7200)


def at(seconds: float = 0.0) -> str:
    """ISO 8601 time `seconds` after `BASE_TS` (what tests used to spell 2024-05-02T12:...)."""
    return datetime.fromtimestamp(BASE_TS + seconds, UTC).isoformat()


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return `base` with `overrides` merged in: non-empty dicts recursively, all else replaced."""
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and value and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def make_interface(name: str = "eth0", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "bytes_sent": 1_000_000,
        "bytes_recv": 5_000_000,
        "packets_sent": 1_000,
        "packets_recv": 4_000,
        "errin": 3,
        "errout": 1,
        "dropin": 7,
        "dropout": 0,
        "bytes_sent_per_sec": 1_024.0,
        "bytes_recv_per_sec": 8_192.0,
        "packets_sent_per_sec": 10.0,
        "packets_recv_per_sec": 20.0,
        "is_up": True,
        "speed_mbps": 1000,
        "mtu": 1500,
        "addresses": ["10.0.0.5"],
    }
    return deep_merge(base, overrides)


def make_disk(mountpoint: str = "/", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "device": "/dev/sda1",
        "mountpoint": mountpoint,
        "fstype": "ext4",
        "total": 100 * GIB,
        "used": 40 * GIB,
        "free": 60 * GIB,
        "percent": 40.0,
        "watched": False,
    }
    return deep_merge(base, overrides)


def make_watched_instance(
    pid: int = 4242, name: str = "worker", **overrides: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "pid": pid,
        "name": name,
        "cpu_percent": 12.5,
        "cpu_affinity": [0, 1],
        "memory_percent": 1.5,
        "memory_rss_bytes": 50 * 1024 * 1024,
        "memory_vms_bytes": 200 * 1024 * 1024,
        "memory_shared_bytes": 5 * 1024 * 1024,
    }
    return deep_merge(base, overrides)


def _metrics() -> dict[str, Any]:
    interfaces = [make_interface("eth0"), make_interface("lo", errin=0, dropin=0, speed_mbps=0)]
    return {
        "cpu_percent": 23.5,
        "memory_total": 8 * GIB,
        "memory_used": 3 * GIB,
        "memory_free": 5 * GIB,
        "memory_percent": 37.5,
        "disks": [make_disk("/"), make_disk("/home", device="/dev/sdb1", percent=70.0)],
        "network": {
            "bytes_sent": 2_000_000,
            "bytes_recv": 10_000_000,
            "packets_sent": 2_000,
            "packets_recv": 8_000,
            "errin": 3,
            "errout": 1,
            "dropin": 7,
            "dropout": 0,
            "bytes_sent_per_sec": 2_048.0,
            "bytes_recv_per_sec": 16_384.0,
            "packets_sent_per_sec": 20.0,
            "packets_recv_per_sec": 40.0,
        },
        "uptime_seconds": 86_400.0,
        "boot_time": "2024-05-01T12:00:00+00:00",
        "cpu": {
            "percent": 23.5,
            "per_core_percent": [20.0, 27.0],
            "count_logical": 2,
            "count_physical": 1,
            "freq_current_mhz": 2400.0,
            "freq_max_mhz": 3000.0,
            "load_1": 0.5,
            "load_5": 0.4,
            "load_15": 0.3,
        },
        "memory": {
            "total_bytes": 8 * GIB,
            "used_bytes": 3 * GIB,
            "free_bytes": 5 * GIB,
            "available_bytes": 5 * GIB,
            "percent": 37.5,
        },
        "swap": {"total_bytes": 2 * GIB, "used_bytes": 0, "free_bytes": 2 * GIB, "percent": 0.0},
        "disk_io": {
            "read_bytes_total": 10 * GIB,
            "write_bytes_total": 20 * GIB,
            "read_count_total": 100_000,
            "write_count_total": 200_000,
            "read_bytes_per_sec": 4096.0,
            "write_bytes_per_sec": 8192.0,
            "read_count_per_sec": 1.0,
            "write_count_per_sec": 2.0,
        },
        "interfaces": interfaces,
        "process_count": 120,
        "thread_count": 340,
        "handle_count": 2_000,
        "sensors": {
            "temperatures": [
                {"chip": "coretemp", "label": "Core 0", "current_celsius": 45.0},
            ],
            "fans": [],
            "battery": None,
        },
    }


def make_snapshot(**overrides: Any) -> dict[str, Any]:
    """A full snapshot dict valid against `protocol.models.Snapshot`."""
    base: dict[str, Any] = {
        "protocol_version": 1,
        "snapshot_id": "snap-0001",
        "collected_at": at(0),
        "metrics": _metrics(),
        "processes": [
            {
                "pid": 101,
                "name": "postgres",
                "cpu_percent": 15.0,
                "memory_percent": 4.0,
                "memory_mb": 320.0,
                "status": "running",
                "username": "postgres",
                "num_threads": 4,
            },
            {
                "pid": 202,
                "name": "python3",
                "cpu_percent": 3.0,
                "memory_percent": 1.0,
                "memory_mb": 80.0,
                "status": "sleeping",
                "username": "root",
                "num_threads": 2,
            },
        ],
        "services": [
            {"service_name": "ssh", "status": "running", "start_type": "auto", "pid": 55},
            {"service_name": "cron", "status": "stopped"},
        ],
        "system": {
            "hostname": "web-01",
            "ip_addresses": ["10.0.0.5"],
            "os": "Linux",
            "os_release": "Debian GNU/Linux 12 (bookworm)",
            "kernel": "6.1.0",
            "arch": "x86_64",
            "boot_time": "2024-05-01T12:00:00+00:00",
            "uptime_seconds": 86_400.0,
        },
        "watched_processes": {
            "worker": {"alive": True, "instances": [make_watched_instance()]},
            "ghost": {"alive": False, "instances": []},
        },
        "gpus": [],
        "containers": [],
        "collection": {
            "duration_ms": 42.0,
            "sources": {"services": {"source": "sysv"}, "gpu": {"source": "none"}},
            "warnings": [],
        },
        "agent": {"version": "0.1.0", "cpu_percent": 0.8, "rss_bytes": 20 * 1024 * 1024},
    }
    return deep_merge(base, overrides)
