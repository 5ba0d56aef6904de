"""The agent's numbers against this machine's own tools (`/proc`, `df`, `nproc`).

Tolerances: memory total and CPU counts are exact; used/free disk space moves while the
test runs, so it may differ from `df` by 1 % of the size or 64 MiB, whichever is larger;
network counters only grow, so each must be at least what `/proc/net/dev` said just before.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from fleetwatch.agent.snapshot import SnapshotCollector
from fleetwatch.protocol.agent_config import validate
from fleetwatch.protocol.models import LiveSample, Snapshot

pytestmark = pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs Linux /proc")


@pytest.fixture(scope="module")
def collector() -> SnapshotCollector:
    return SnapshotCollector(validate({"top_processes_count": 5}))


@pytest.fixture(scope="module")
def snapshot(collector: SnapshotCollector) -> dict[str, Any]:
    collector.prime()
    time.sleep(0.2)
    return collector.collect()


def read_net_dev() -> dict[str, list[int]]:
    result = {}
    for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
        name, _, values = line.partition(":")
        result[name.strip()] = [int(v) for v in values.split()]
    return result


def test_memory_total_matches_meminfo_exactly(snapshot: dict[str, Any]) -> None:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kib = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    assert snapshot["metrics"]["memory_total"] == total_kib * 1024
    assert snapshot["metrics"]["memory"]["total_bytes"] == total_kib * 1024


@pytest.mark.skipif(shutil.which("df") is None, reason="needs df")
def test_every_partition_matches_df(snapshot: dict[str, Any]) -> None:
    disks = [d for d in snapshot["metrics"]["disks"] if not d["watched"]]
    assert disks, "at least the root filesystem"
    for disk in disks:
        out = subprocess.run(
            ["df", "-B1", "--output=size,used,avail", disk["mountpoint"]],
            capture_output=True, text=True, check=True,
        ).stdout.splitlines()[1].split()  # fmt: skip
        size, used, avail = (int(v) for v in out)
        tolerance = max(size * 0.01, 64 * 1024 * 1024)
        assert disk["total"] == size, disk["mountpoint"]
        assert abs(disk["used"] - used) <= tolerance, disk["mountpoint"]
        assert abs(disk["free"] - avail) <= tolerance, disk["mountpoint"]


def test_every_interface_of_proc_net_dev_is_reported_with_growing_counters() -> None:
    before = read_net_dev()
    snap = SnapshotCollector(validate({})).collect()
    interfaces = {i["name"]: i for i in snap["metrics"]["interfaces"]}
    assert set(before) <= set(interfaces)
    for name, values in before.items():
        entry = interfaces[name]
        # /proc/net/dev: rx bytes packets errs drop ... tx bytes packets errs drop ...
        assert entry["bytes_recv"] >= values[0] and entry["packets_recv"] >= values[1]
        assert entry["errin"] >= values[2] and entry["dropin"] >= values[3]
        assert entry["bytes_sent"] >= values[8] and entry["packets_sent"] >= values[9]
        assert entry["errout"] >= values[10] and entry["dropout"] >= values[11]
    host = sum(v[0] for name, v in before.items() if name != "lo")  # totals leave loopback out
    assert snap["metrics"]["network"]["bytes_recv"] >= host


@pytest.mark.skipif(shutil.which("nproc") is None, reason="needs nproc")
def test_cpu_counts_match_nproc(snapshot: dict[str, Any]) -> None:
    # `nproc` honours this process's affinity; `nproc --all` counts every CPU, like
    # count_logical does.
    all_cpus = int(subprocess.run(["nproc", "--all"], capture_output=True, text=True).stdout)
    assert snapshot["metrics"]["cpu"]["count_logical"] == all_cpus
    assert len(snapshot["metrics"]["cpu"]["per_core_percent"]) == os.cpu_count()
    usable = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
    assert usable == len(os.sched_getaffinity(0)) <= all_cpus


def test_counts_and_identity_are_plausible(snapshot: dict[str, Any]) -> None:
    metrics = snapshot["metrics"]
    pids = [e for e in os.listdir("/proc") if e.isdigit()]
    assert abs(metrics["process_count"] - len(pids)) <= 20
    allocated = int(Path("/proc/sys/fs/file-nr").read_text().split()[0])
    assert abs(metrics["handle_count"] - allocated) <= max(500, allocated // 2)
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    assert abs(metrics["uptime_seconds"] - uptime) <= 5
    assert snapshot["system"]["hostname"] == socket.gethostname()
    assert snapshot["system"]["kernel"] == os.uname().release
    assert 5 <= len(snapshot["processes"]) <= 10  # top 5 by CPU plus top 5 by memory


def test_snapshots_and_live_samples_validate_against_the_protocol(
    collector: SnapshotCollector,
) -> None:
    for _ in range(3):
        Snapshot.model_validate(collector.collect())
        LiveSample.model_validate(collector.collect_live())
        time.sleep(0.05)


@pytest.mark.skipif(
    Path("/run/systemd/system").exists() or shutil.which("service") is None,
    reason="this host has systemd or no SysV `service` command",
)
def test_services_come_from_sysv_here(snapshot: dict[str, Any]) -> None:
    assert snapshot["collection"]["sources"]["services"]["source"] == "sysv"
    assert snapshot["services"], "service --status-all lists the init scripts"
