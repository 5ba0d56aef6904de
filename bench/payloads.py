"""Seed-001-shaped snapshot payloads for the ingest benchmark (~5 KB JSON, ~120 numbers).

Each simulated server has a fixed identity (disks, services, a pool of process names); every
payload varies the numbers the way a real host does (CPU and rates wander, counters grow, the top
process list reorders). `count_numbers` counts the numeric samples in a payload.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

PROCESS_NAMES = (
    "systemd",
    "sshd",
    "nginx",
    "postgres",
    "python3",
    "node",
    "java",
    "dockerd",
    "containerd",
    "redis-server",
    "chronyd",
    "rsyslogd",
    "cron",
    "bash",
    "journald",
    "udevd",
    "gunicorn",
    "celery",
    "haproxy",
    "prometheus",
    "kworker/0:1",
    "snapd",
    "polkitd",
    "dbus-daemon",
)
SERVICES = (
    "nginx",
    "postgresql",
    "ssh",
    "cron",
    "docker",
    "containerd",
    "rsyslog",
    "chrony",
    "redis-server",
    "fleetwatch-agent",
)


class SimulatedServer:
    """One host producing a plausible stream of snapshots."""

    def __init__(self, index: int, rng: random.Random) -> None:
        self.rng = rng
        self.hostname = f"bench-{index:04d}.example.net"
        self.cpu = rng.uniform(5, 60)
        self.net_sent = rng.randrange(10**9)
        self.net_recv = rng.randrange(10**9)
        self.pids = {name: rng.randrange(300, 60000) for name in PROCESS_NAMES}

    def snapshot(self, collected_at: float) -> dict[str, Any]:
        rng = self.rng
        self.cpu = min(100.0, max(0.0, self.cpu + rng.gauss(0, 4)))
        sent_rate, recv_rate = rng.uniform(1e4, 5e6), rng.uniform(1e4, 2e7)
        self.net_sent += int(sent_rate * 60)
        self.net_recv += int(recv_rate * 60)
        mem_total = 16 * 1024**3
        mem_used = int(mem_total * rng.uniform(0.4, 0.8))
        cores = [round(min(100.0, max(0.0, self.cpu + rng.gauss(0, 10))), 1) for _ in range(8)]
        disks = [
            {
                "device": dev,
                "mountpoint": mount,
                "fstype": "ext4",
                "total": 500 * 1024**3,
                "used": used,
                "free": 500 * 1024**3 - used,
                "percent": round(100 * used / (500 * 1024**3), 1),
            }
            for dev, mount, used in (
                ("/dev/sda1", "/", int(rng.uniform(1e11, 3e11))),
                ("/dev/sdb1", "/var", int(rng.uniform(1e11, 4e11))),
                ("/dev/sdc1", "/srv/data", int(rng.uniform(2e11, 4.5e11))),
            )
        ]
        top = rng.sample(PROCESS_NAMES, 15)
        processes = [
            {
                "pid": self.pids[name],
                "name": name,
                "cpu_percent": round(rng.expovariate(0.3), 1),
                "memory_percent": round(rng.uniform(0.1, 8), 1),
                "memory_mb": round(rng.uniform(5, 1500), 1),
                "status": "running",
                "username": "root" if i % 3 else "www-data",
            }
            for i, name in enumerate(top)
        ]
        services = [
            {
                "service_name": name,
                "display_name": name.replace("-", " ").title(),
                "status": "running",
                "start_type": "automatic",
                "pid": 1000 + i,
            }
            for i, name in enumerate(SERVICES)
        ]
        return {
            "snapshot_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "collected_at": datetime.fromtimestamp(collected_at, UTC).isoformat(),
            "metrics": {
                "cpu_percent": round(self.cpu, 1),
                "memory_total": mem_total,
                "memory_used": mem_used,
                "memory_free": mem_total - mem_used,
                "memory_percent": round(100 * mem_used / mem_total, 1),
                "disks": disks,
                "network": {
                    "bytes_sent": self.net_sent,
                    "bytes_recv": self.net_recv,
                    "packets_sent": self.net_sent // 900,
                    "packets_recv": self.net_recv // 1100,
                    "errin": 0,
                    "errout": 0,
                    "dropin": rng.randrange(5),
                    "dropout": 0,
                    "bytes_sent_per_sec": round(sent_rate, 1),
                    "bytes_recv_per_sec": round(recv_rate, 1),
                },
                "uptime_seconds": collected_at - 1.7e9,
                "cpu": {
                    "percent": round(self.cpu, 1),
                    "per_core_percent": cores,
                    "count_logical": 8,
                    "count_physical": 4,
                    "freq_current_mhz": round(rng.uniform(1800, 3600)),
                    "freq_max_mhz": 3600.0,
                    "load_1": round(self.cpu / 12, 2),
                    "load_5": round(self.cpu / 14, 2),
                    "load_15": round(self.cpu / 15, 2),
                },
                "disk_io": {
                    "read_bytes_per_sec": round(rng.uniform(0, 5e6), 1),
                    "write_bytes_per_sec": round(rng.uniform(0, 8e6), 1),
                    "read_count_per_sec": round(rng.uniform(0, 300), 1),
                    "write_count_per_sec": round(rng.uniform(0, 500), 1),
                },
                "process_count": rng.randrange(200, 400),
                "thread_count": rng.randrange(1000, 3000),
            },
            "processes": processes,
            "services": services,
            "system": {"hostname": self.hostname, "os": "Linux", "arch": "x86_64"},
        }


def count_numbers(value: Any) -> int:
    """Numeric samples in a payload (bools and strings excluded)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return 1
    if isinstance(value, dict):
        return sum(count_numbers(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_numbers(v) for v in value)
    return 0
