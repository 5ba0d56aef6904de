"""The reference of the agent benchmark: a bare python + psutil loop, no framework.

Every `--interval` seconds it collects what a full fleetwatch snapshot holds at minimum: CPU
(total and per core), memory and swap, every partition's usage, disk and per-interface network
counters, and the top N processes by CPU and by memory (a full process scan). It prints
nothing; it exists to be measured.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import time

import psutil

ATTRS = ["pid", "name", "cpu_percent", "memory_percent", "memory_info", "status", "username"]


def collect(top_n: int) -> dict[str, object]:
    procs = [p.info for p in psutil.process_iter(ATTRS)]
    disks = []
    for part in psutil.disk_partitions(all=False):
        with contextlib.suppress(OSError):
            disks.append((part.mountpoint, psutil.disk_usage(part.mountpoint)))
    return {
        "cpu": psutil.cpu_percent(percpu=True),
        "memory": psutil.virtual_memory(),
        "swap": psutil.swap_memory(),
        "disks": disks,
        "disk_io": psutil.disk_io_counters(),
        "net": psutil.net_io_counters(pernic=True),
        "top_cpu": heapq.nlargest(top_n, procs, key=lambda p: p["cpu_percent"] or 0),
        "top_mem": heapq.nlargest(top_n, procs, key=lambda p: p["memory_percent"] or 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    deadline = time.monotonic()
    while True:
        collect(args.top)
        deadline += args.interval
        time.sleep(max(0.0, deadline - time.monotonic()))


if __name__ == "__main__":
    main()
