"""The simulated fleet's servers: five groups of roles, each `Profile` with its hardware,
services, processes and base load; every 4th server runs hot, every 7th is Windows."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

GROUPS: tuple[str, ...] = ("production", "staging", "database", "web", "monitoring")
GIB = 1024**3

#: per group: hostname prefix, services, process names, CPU base %, memory base %
_ROLES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], float, float]] = {
    "production": (
        "app",
        ("app-server", "sshd", "cron", "node-exporter"),
        ("java", "python3"),
        40,
        60,
    ),
    "staging": ("stg", ("app-server", "sshd", "cron"), ("java", "python3"), 15, 40),
    "database": (
        "db",
        ("postgresql", "pgbouncer", "sshd", "cron"),
        ("postgres", "pgbouncer"),
        35,
        75,
    ),
    "web": ("web", ("nginx", "php-fpm", "sshd", "cron"), ("nginx", "php-fpm", "node"), 30, 50),
    "monitoring": (
        "mon",
        ("prometheus", "grafana-server", "alertmanager", "sshd"),
        ("prometheus", "grafana"),
        20,
        45,
    ),
}


@dataclass(frozen=True)
class Profile:
    """One simulated server. `hot` ones run near their limits."""

    hostname: str
    group: str
    index: int
    cores: int
    memory_bytes: int
    disks: tuple[tuple[str, str, int], ...]  # (mountpoint, device, total bytes)
    services: tuple[str, ...]
    processes: tuple[str, ...]
    cpu_base: float
    memory_base: float
    hot: bool = False
    windows: bool = False
    ip_address: str = ""
    phase: float = 0.0
    boot_ts: float = 0.0
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def os_info(self) -> str:
        return "Windows Server 2022 AMD64" if self.windows else "Debian GNU/Linux 12 (bookworm)"


def make_fleet(count: int, seed: int = 1, now: float | None = None) -> list[Profile]:
    """`count` profiles spread over the five groups; every 4th is hot, every 7th Windows."""
    now = time.time() if now is None else now
    rng = random.Random(seed)
    fleet: list[Profile] = []
    for i in range(count):
        group = GROUPS[i % len(GROUPS)]
        prefix, services, procs, cpu, mem = _ROLES[group]
        hot = i % 4 == 3
        windows = i % 7 == 6
        cores = rng.choice((2, 4, 8, 16, 32))
        if windows:
            disks: tuple[tuple[str, str, int], ...] = (("C:\\", "C:\\", 256 * GIB),)
            services = ("W3SVC", "WinRM", "Dnscache", "EventLog")
        else:
            disks = (
                ("/", "/dev/sda1", 64 * GIB),
                ("/var", "/dev/sdb1", rng.choice((200, 500)) * GIB),
            )
            if group == "database":
                disks += (("/var/lib/postgresql", "/dev/nvme0n1p1", 1000 * GIB),)
        fleet.append(
            Profile(
                hostname=f"{prefix}-{i // len(GROUPS) + 1:02d}" + ("-win" if windows else ""),
                group=group,
                index=i,
                cores=cores,
                memory_bytes=rng.choice((4, 8, 16, 32, 64)) * GIB,
                disks=disks,
                services=services,
                processes=procs,
                cpu_base=min(cpu + 45, 88) if hot else cpu,
                memory_base=min(mem + 20, 90) if hot else mem,
                hot=hot,
                windows=windows,
                ip_address=f"10.{i // 250}.{i % 250}.{10 + rng.randrange(200)}",
                phase=rng.random() * 2 * math.pi,
                boot_ts=now - rng.randrange(2, 90) * 86400,
                tags=(group, "demo"),
            )
        )
    return fleet
