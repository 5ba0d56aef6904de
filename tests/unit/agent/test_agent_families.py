"""Sensors, identity, disks and network collectors on fake psutil data."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any

import psutil
from agent_fakes import FIXTURES, Battery, FakeClock, FakePsutil, Fan, Temp, raising

from fleetwatch.agent.collectors.disks import DiskCollector
from fleetwatch.agent.collectors.network import NetworkCollector
from fleetwatch.agent.collectors.sensors import SENSORS_REFRESH_SECONDS, SensorCollector
from fleetwatch.agent.collectors.system import SystemCollector, public_addresses, read_os_release

NetIO = namedtuple(
    "NetIO", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout"
)
Part = namedtuple("Part", "device mountpoint fstype opts")
Usage = namedtuple("Usage", "total used free percent")


def test_sensors_present() -> None:
    fake = FakePsutil(
        sensors_temperatures=lambda: {
            "coretemp": [
                Temp("Package id 0", 54.0, 80.0, 100.0),
                Temp("Core 0", -273.2, None, None),
            ],
            "nvme": [Temp("", 38.85, None, 84.85)],
        },
        sensors_fans=lambda: {"dell_smm": [Fan("CPU fan", 2400)]},
        sensors_battery=lambda: Battery(87.5, psutil.POWER_TIME_UNLIMITED, True),
    )
    reading, status = SensorCollector(fake).collect(lambda m: None)
    assert status == {"source": "psutil", "detail": None}
    assert reading == {
        "temperatures": [
            {"chip": "coretemp", "label": "Package id 0", "current_celsius": 54.0,
             "high_celsius": 80.0, "critical_celsius": 100.0},
            {"chip": "nvme", "label": "", "current_celsius": 38.9,
             "high_celsius": None, "critical_celsius": 84.8},
        ],  # the -273.2 °C reading is a driver's "no sensor", not a temperature
        "fans": [{"chip": "dell_smm", "label": "CPU fan", "rpm": 2400}],
        "battery": {"percent": 87.5, "plugged": True, "seconds_left": None},
    }  # fmt: skip


def test_no_sensors_says_so_and_is_cached() -> None:
    calls = []

    def temps() -> dict[str, Any]:
        calls.append(1)
        return {}

    clock = FakeClock()
    fake = FakePsutil(sensors_temperatures=temps, sensors_fans=dict, sensors_battery=lambda: None)
    collector = SensorCollector(fake, clock=clock)
    reading, status = collector.collect(lambda m: None)
    assert reading is None and status["source"] == "none" and "no temperature" in status["detail"]
    collector.collect(lambda m: None)
    clock.advance(SENSORS_REFRESH_SECONDS)
    collector.collect(lambda m: None)
    assert len(calls) == 2


def test_unreadable_sensors_warn() -> None:
    fake = FakePsutil(sensors_temperatures=raising(PermissionError(13, "Permission denied")))
    warnings: list[str] = []
    reading, status = SensorCollector(fake).collect(warnings.append)
    assert reading is None and status["source"] == "none"
    assert warnings == ["sensors: cannot read: [Errno 13] Permission denied"]


def test_identity(tmp_path: Path) -> None:
    assert read_os_release(FIXTURES / "os-release") == "Debian GNU/Linux 12 (bookworm)"
    (tmp_path / "os-release").write_text('NAME="Alpine Linux"\nVERSION=3.19\n')
    assert read_os_release(tmp_path / "os-release") == "Alpine Linux 3.19"
    assert read_os_release(tmp_path / "missing") == ""
    system = SystemCollector(FakePsutil(boot_time=lambda: 1_700_000_000.0),
                             os_release_path=FIXTURES / "os-release")  # fmt: skip
    info = system.collect(
        {"lo": ["127.0.0.1", "::1"], "eth0": ["10.0.0.5", "fe80::1", "2001:db8::5"]}
    )
    assert info["ip_addresses"] == ["10.0.0.5", "2001:db8::5"]
    assert info["boot_time"] == "2023-11-14T22:13:20+00:00"
    assert info["uptime_seconds"] > 0
    assert info["hostname"] and info["arch"] and info["kernel"]


def test_public_addresses_skip_garbage_and_duplicates() -> None:
    assert public_addresses({"a": ["x", "10.1.1.1"], "b": ["10.1.1.1", "169.254.1.1"]}) == [
        "10.1.1.1"
    ]


def test_disks_with_watched_paths(tmp_path: Path) -> None:
    usage = {"/": Usage(100, 40, 60, 40.0), "/data": Usage(1000, 900, 100, 90.0)}

    def disk_usage(path: str) -> Usage:
        if path == "/locked":
            raise PermissionError(13, "Permission denied")
        return usage.get(path, Usage(1000, 900, 100, 90.0))

    fake = FakePsutil(
        disk_partitions=lambda all=False: [Part("/dev/sda1", "/", "ext4", ""),
                                           Part("/dev/sdb1", "/data", "xfs", ""),
                                           Part("/dev/sdc1", "/locked", "ext4", "")],
        disk_usage=disk_usage,
    )  # fmt: skip
    warnings: list[str] = []
    disks = DiskCollector(fake).partitions(["/data", "/data/projects/x"], warnings.append)
    assert [(d["mountpoint"], d["device"], d["watched"]) for d in disks] == [
        ("/", "/dev/sda1", False),
        ("/data", "/dev/sdb1", True),
        ("/data/projects/x", "/dev/sdb1", True),
    ]
    assert warnings == ["disks: cannot read usage of /locked: Permission denied"]


def test_network_interfaces_filter_and_rates() -> None:
    counters = {"eth0": NetIO(1000, 5000, 10, 50, 1, 2, 3, 4), "lo": NetIO(7, 7, 1, 1, 0, 0, 0, 0)}
    fake = FakePsutil(net_io_counters=lambda pernic=True: dict(counters))
    clock = FakeClock()
    collector = NetworkCollector(fake, clock=clock)
    warnings: list[str] = []
    totals, interfaces = collector.collect(["eth0", "wlan9"], warnings.append)
    assert totals["bytes_sent"] == 1000 and totals["bytes_recv_per_sec"] is None  # lo left out
    assert [i["name"] for i in interfaces] == ["eth0"]
    assert interfaces[0]["errin"] == 1 and interfaces[0]["dropout"] == 4
    assert warnings == ["network: watched interface wlan9 not found"]
    counters["eth0"] = NetIO(3000, 5000, 30, 50, 1, 2, 3, 4)
    clock.advance(2.0)
    totals, interfaces = collector.collect([], warnings.append)
    assert [i["name"] for i in interfaces] == ["eth0", "lo"]
    assert interfaces[0]["bytes_sent_per_sec"] == 1000.0
    assert interfaces[0]["packets_sent_per_sec"] == 10.0
    assert totals["bytes_sent_per_sec"] == 1000.0
    counters["eth0"] = NetIO(10, 10, 1, 1, 0, 0, 0, 0)  # driver reloaded: counters reset
    clock.advance(1.0)
    totals, interfaces = collector.collect([], warnings.append)
    assert interfaces[0]["bytes_sent_per_sec"] is None
    assert totals["bytes_sent_per_sec"] is None


def test_host_totals_leave_out_loopback_but_list_it() -> None:
    """The agent's own traffic to a hub on the same host (on `lo`) is not host traffic (26.2)."""
    counters = {
        "eth0": NetIO(100, 200, 1, 2, 0, 0, 0, 0),
        "lo": NetIO(9000, 9000, 90, 90, 0, 0, 0, 0),
        "Loopback Pseudo-Interface 1": NetIO(500, 500, 5, 5, 0, 0, 0, 0),
        "lo-flagged": NetIO(700, 700, 7, 7, 0, 0, 0, 0),
    }
    Stat = namedtuple("Stat", "isup duplex speed mtu flags")
    stats = {"lo-flagged": Stat(True, 0, 0, 65536, "up,loopback,running")}
    fake = FakePsutil(net_io_counters=lambda pernic=True: dict(counters),
                      net_if_stats=lambda: stats)  # fmt: skip
    clock = FakeClock()
    collector = NetworkCollector(fake, clock=clock)
    collector.collect([], lambda _: None)
    counters["eth0"] = NetIO(1100, 1200, 11, 12, 0, 0, 0, 0)
    counters["lo"] = NetIO(59000, 59000, 590, 590, 0, 0, 0, 0)  # the agent posting to a local hub
    clock.advance(1.0)
    totals, interfaces = collector.collect([], lambda _: None)
    assert totals["bytes_sent"] == 1100 and totals["bytes_recv"] == 1200
    assert totals["bytes_sent_per_sec"] == 1000.0 and totals["bytes_recv_per_sec"] == 1000.0
    clock.advance(1.0)
    assert collector.total_rates(lambda _: None)["bytes_sent_per_sec"] == 0.0  # nothing new
    by_name = {i["name"]: i for i in interfaces}
    assert by_name["lo"]["bytes_sent_per_sec"] == 50000.0  # per interface, loopback stays
    assert set(by_name) == set(counters)
