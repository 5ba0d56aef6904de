"""What a simulated server sends: snapshots, live samples and its registration, each a
deterministic function of (profile, ts): a daily cycle plus noise and bursts, disks filling
slowly, counters growing with uptime; hot servers near their limits."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from typing import Any

from fleetwatch.demo.fleet import GIB, Profile

_COMMON_PROCS = (
    "systemd",
    "sshd",
    "rsyslogd",
    "cron",
    "dbus-daemon",
    "containerd",
    "chronyd",
    "bash",
)


def _rng(profile: Profile, ts: float, salt: str = "") -> random.Random:
    return random.Random(f"{profile.hostname}:{int(ts)}:{salt}")


def _clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return round(max(low, min(high, value)), 2)


def cpu_at(profile: Profile, ts: float) -> float:
    """CPU % at `ts`: base + daily cycle + noise, with occasional bursts."""
    rng = _rng(profile, ts, "cpu")
    daily = 12 * math.sin(2 * math.pi * ts / 86400 + profile.phase)
    burst = rng.uniform(15, 35) if rng.random() < 0.05 else 0.0
    top = 99.0 if profile.hot else 97.0
    return _clamp(profile.cpu_base + daily + rng.gauss(0, 4) + burst, 0.5, top)


def memory_at(profile: Profile, ts: float) -> float:
    slow = 5 * math.sin(2 * math.pi * ts / (7 * 86400) + profile.phase)
    return _clamp(profile.memory_base + slow + _rng(profile, ts, "mem").gauss(0, 1.5), 5, 98)


def _disks(profile: Profile, ts: float) -> list[dict[str, Any]]:
    out = []
    for n, (mount, device, total) in enumerate(profile.disks):
        # fills slowly, cleaned up every 20 days (a sawtooth, so any time range is sane)
        fill = 0.35 + 0.1 * n + 0.04 * ((((ts - profile.boot_ts) / 86400) % 20) / 20)
        if profile.hot and n == len(profile.disks) - 1:
            fill = 0.93 + ((ts / 3600) % 24) * 0.001
        used = int(total * min(fill, 0.99))
        out.append(
            {
                "device": device,
                "mountpoint": mount,
                "fstype": "NTFS" if profile.windows else "ext4",
                "total": total,
                "used": used,
                "free": total - used,
                "percent": round(100 * used / total, 1),
            }
        )
    return out


def _interfaces(profile: Profile, ts: float, uptime: float) -> list[dict[str, Any]]:
    rng = _rng(profile, ts, "net")
    names = ("Ethernet0",) if profile.windows else ("eth0", "eth1")
    out = []
    for n, name in enumerate(names):
        scale = (1.0 if n == 0 else 0.1) * (1 + profile.cpu_base / 50)
        sent_rate = max(0.0, 250_000 * scale * (1 + 0.3 * math.sin(ts / 3600) + rng.gauss(0, 0.1)))
        recv_rate = sent_rate * rng.uniform(1.5, 3.0)
        out.append(
            {
                "name": name,
                "bytes_sent": int(250_000 * scale * uptime),
                "bytes_recv": int(500_000 * scale * uptime),
                "packets_sent": int(200 * scale * uptime),
                "packets_recv": int(400 * scale * uptime),
                "errin": int(uptime // 86400) if profile.hot else 0,
                "errout": 0,
                "dropin": int(uptime // 3600) % 50,
                "dropout": 0,
                "bytes_sent_per_sec": round(sent_rate, 1),
                "bytes_recv_per_sec": round(recv_rate, 1),
                "packets_sent_per_sec": round(sent_rate / 1200, 1),
                "packets_recv_per_sec": round(recv_rate / 1200, 1),
                "is_up": True,
                "speed_mbps": 10_000 if n == 0 else 1_000,
                "mtu": 1500,
                "addresses": [profile.ip_address] if n == 0 else [],
            }
        )
    return out


def _processes(profile: Profile, ts: float, cpu: float) -> list[dict[str, Any]]:
    rng = _rng(profile, ts, "proc")
    names = list(profile.processes) * 3 + list(_COMMON_PROCS)
    procs = []
    share = cpu * profile.cores
    for n, name in enumerate(names[:15]):
        weight = 0.5 ** (n / 3)
        procs.append(
            {
                "pid": 1000 + 37 * n + profile.index,
                "name": name,
                "cpu_percent": round(share * weight * rng.uniform(0.2, 0.5), 1),
                "memory_percent": round(10 * weight * rng.uniform(0.5, 1.5), 2),
                "memory_mb": round(profile.memory_bytes / 2**20 * weight * 0.08, 1),
                "status": "running" if n < 3 else "sleeping",
                "username": "SYSTEM" if profile.windows else ("root" if n >= 9 else name),
                "num_threads": 4 + (n * 7) % 60,
            }
        )
    return procs


def _services(profile: Profile) -> list[dict[str, Any]]:
    out = []
    for n, name in enumerate(profile.services):
        stopped = profile.hot and n == len(profile.services) - 1
        out.append(
            {
                "service_name": name,
                "display_name": name.replace("-", " ").title(),
                "status": "stopped" if stopped else "running",
                "start_type": "automatic",
                "pid": None if stopped else 400 + n * 11,
            }
        )
    return out


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def make_snapshot(profile: Profile, ts: float) -> dict[str, Any]:
    """A full snapshot of `profile` at `ts` (valid against `protocol.models.Snapshot`)."""
    rng = _rng(profile, ts, "snap")
    cpu = cpu_at(profile, ts)
    mem = memory_at(profile, ts)
    uptime = max(60.0, ts - profile.boot_ts)
    total = profile.memory_bytes
    used = int(total * mem / 100)
    swap_pct = _clamp((mem - 70) * 2) if mem > 70 else 0.0
    swap_total = 0 if profile.windows else 4 * GIB
    interfaces = _interfaces(profile, ts, uptime)
    totals = {
        k: sum(i[k] for i in interfaces)
        for k in (
            "bytes_sent", "bytes_recv", "packets_sent", "packets_recv",
            "errin", "errout", "dropin", "dropout",
            "bytes_sent_per_sec", "bytes_recv_per_sec", "packets_sent_per_sec",
            "packets_recv_per_sec",
        )
    }  # fmt: skip
    cores = [_clamp(cpu + rng.gauss(0, 8)) for _ in range(profile.cores)]
    load = round(profile.cores * cpu / 100 * rng.uniform(0.8, 1.2), 2)
    disk_read = max(0.0, 2e6 * (1 + profile.cpu_base / 40) * rng.uniform(0.3, 1.7))
    processes = _processes(profile, ts, cpu)
    watched_alive = not (profile.hot and profile.index % 8 == 3)
    watched = {
        profile.processes[0]: {
            "alive": watched_alive,
            "instances": [
                {
                    "pid": processes[0]["pid"],
                    "name": profile.processes[0],
                    "cpu_percent": processes[0]["cpu_percent"],
                    "cpu_affinity": list(range(profile.cores)),
                    "memory_percent": processes[0]["memory_percent"],
                    "memory_rss_bytes": int(processes[0]["memory_mb"] * 2**20),
                    "memory_vms_bytes": int(processes[0]["memory_mb"] * 2**20 * 3),
                    "memory_shared_bytes": int(processes[0]["memory_mb"] * 2**20 * 0.1),
                }
            ]
            if watched_alive
            else [],
        }
    }
    return {
        "protocol_version": 1,
        "snapshot_id": f"demo-{profile.hostname}-{int(ts)}",
        "collected_at": iso(ts),
        "metrics": {
            "cpu_percent": cpu,
            "memory_total": total,
            "memory_used": used,
            "memory_free": total - used,
            "memory_percent": mem,
            "disks": _disks(profile, ts),
            "network": totals,
            "uptime_seconds": round(uptime),
            "boot_time": iso(profile.boot_ts),
            "cpu": {
                "percent": cpu,
                "per_core_percent": cores,
                "count_logical": profile.cores,
                "count_physical": max(1, profile.cores // 2),
                "freq_current_mhz": round(2400 + 800 * cpu / 100),
                "freq_max_mhz": 3500.0,
                "load_1": load,
                "load_5": round(load * 0.9, 2),
                "load_15": round(load * 0.8, 2),
            },
            "memory": {
                "total_bytes": total,
                "used_bytes": used,
                "free_bytes": total - used,
                "available_bytes": total - used,
                "percent": mem,
            },
            "swap": {
                "total_bytes": swap_total,
                "used_bytes": int(swap_total * swap_pct / 100),
                "free_bytes": swap_total - int(swap_total * swap_pct / 100),
                "percent": swap_pct if swap_total else 0.0,
            },
            "disk_io": {
                "read_bytes_total": int(2e6 * uptime),
                "write_bytes_total": int(3e6 * uptime),
                "read_count_total": int(50 * uptime),
                "write_count_total": int(80 * uptime),
                "read_bytes_per_sec": round(disk_read, 1),
                "write_bytes_per_sec": round(disk_read * 1.4, 1),
                "read_count_per_sec": round(disk_read / 40_000, 1),
                "write_count_per_sec": round(disk_read / 30_000, 1),
            },
            "interfaces": interfaces,
            "process_count": 150 + profile.cores * 10 + rng.randrange(20),
            "thread_count": 900 + profile.cores * 60 + rng.randrange(200),
            "handle_count": 40_000 + rng.randrange(5000) if profile.windows else 0,
        },
        "processes": processes,
        "services": _services(profile),
        "system": {
            "hostname": profile.hostname,
            "ip_addresses": [profile.ip_address],
            "os": "Windows" if profile.windows else "Linux",
            "os_release": profile.os_info,
            "kernel": "10.0.20348" if profile.windows else "6.1.0-18-amd64",
            "arch": "AMD64" if profile.windows else "x86_64",
            "boot_time": iso(profile.boot_ts),
            "uptime_seconds": round(uptime),
        },
        "watched_processes": watched,
        "gpus": [],
        "containers": [],
        "collection": {"duration_ms": round(rng.uniform(20, 80), 1), "sources": {}, "warnings": []},
        "agent": {"version": "demo", "cpu_percent": 0.4, "rss_bytes": 18 * 2**20},
    }


def make_live_sample(profile: Profile, ts: float) -> dict[str, Any]:
    """A live sample of `profile` at `ts` (seed-001 `/api/metrics/live` shape)."""
    rng = _rng(profile, ts, "live")
    cpu = cpu_at(profile, ts)
    mem = memory_at(profile, ts)
    used = int(profile.memory_bytes * mem / 100)
    net = 250_000 * (1 + profile.cpu_base / 50) * rng.uniform(0.6, 1.4)
    disk = 2e6 * rng.uniform(0.3, 1.7)
    return {
        "sample_id": f"demo-live-{profile.hostname}-{int(ts * 1000)}",
        "collected_at": datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds"),
        "cpu_percent": cpu,
        "cpu_per_core": [_clamp(cpu + rng.gauss(0, 8)) for _ in range(profile.cores)],
        "cpu_freq_mhz": round(2400 + 800 * cpu / 100),
        "memory_percent": mem,
        "memory_used": used,
        "memory_available": profile.memory_bytes - used,
        "swap_percent": _clamp((mem - 70) * 2) if mem > 70 else 0.0,
        "swap_used": 0,
        "network_rate": {
            "bytes_sent_per_sec": round(net, 1),
            "bytes_recv_per_sec": round(net * 2.2, 1),
            "packets_sent_per_sec": round(net / 1200, 1),
            "packets_recv_per_sec": round(net * 2.2 / 1200, 1),
        },
        "disk_io_rate": {
            "read_bytes_per_sec": round(disk, 1),
            "write_bytes_per_sec": round(disk * 1.4, 1),
            "read_count_per_sec": round(disk / 40_000, 1),
            "write_count_per_sec": round(disk / 30_000, 1),
        },
        "process_count": 150 + profile.cores * 10 + rng.randrange(20),
        "thread_count": 900 + profile.cores * 60 + rng.randrange(200),
        "handle_count": 40_000 + rng.randrange(5000) if profile.windows else 0,
    }


def registration(profile: Profile) -> dict[str, Any]:
    """The `POST /api/register` body of `profile`."""
    return {
        "hostname": profile.hostname,
        "ip_address": profile.ip_address,
        "os_info": profile.os_info,
        "group_name": profile.group,
        "tags": list(profile.tags),
        "agent_version": "demo",
    }
