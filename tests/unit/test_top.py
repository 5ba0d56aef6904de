"""`fleetwatch top` (T2): the real command with --once, the frame renderer and the alert table."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from typing import Any

import pytest
from rich.console import Console

from factories import make_disk, make_snapshot
from fleetwatch.agent.top.alerts import CRITICAL, WARNING, Threshold, evaluate
from fleetwatch.agent.top.format import bar, human_bytes, human_duration
from fleetwatch.agent.top.view import render_frame


def run_top(*args: str, columns: int = 140) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "60", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-m", "fleetwatch.cli.main", "top", "--once", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def render(snapshot: dict[str, Any], detailed: bool = False, **stats: Any) -> str:
    console = Console(width=160, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_frame(snapshot, stats or None, evaluate(snapshot), detailed=detailed))
    console.file.close()
    return console.export_text()


def test_once_renders_this_host() -> None:
    result = run_top("--interval", "0.5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(socket.gethostname()[:13])
    assert "compact" in out
    for section in ("CPU", "Memory", "Swap", "Disks", "Network", "Top processes"):
        assert section in out
    assert re.search(r"^\s*/\s", out, re.M), "the root filesystem row"
    assert "lo" in out
    assert re.search(r"Collection: 2 cycles +last [\d.]+ ms +avg [\d.]+ ms", out)
    assert "Alerts" in out
    assert "core 0" not in out  # per-core bars are for --detailed


def test_once_detailed_adds_per_core_and_counters() -> None:
    result = run_top("--detailed", "--interval", "0.5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "detailed" in out
    assert "core 0" in out and f"core {os.cpu_count() - 1}" in out  # type: ignore[operator]
    assert "Errors" in out and "Drops" in out and "packets, errors, drops: in/out" in out


@pytest.mark.parametrize("detailed", [False, True])
def test_once_fits_80_columns(detailed: bool) -> None:
    result = run_top("--interval", "0.5", *(["--detailed"] if detailed else []), columns=80)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert re.search(r"^\S+  up .+  load [\d.]+ [\d.]+ [\d.]+  \d+ procs", lines[0])
    root = next(line for line in lines if re.match(r"^ /\s", line))
    assert re.search(r"B +[\d.]+ [KMGTP]?i?B .*\d+\.\d%", root), root  # used, total, use %


def render_at(width: int, snapshot: dict[str, Any], detailed: bool, footer: str) -> list[str]:
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    frame = render_frame(snapshot, None, evaluate(snapshot), detailed=detailed, footer=footer)
    console.print(frame)
    console.file.close()
    return console.export_text().splitlines()


@pytest.mark.parametrize("detailed", [False, True])
def test_long_names_and_big_figures_fit_80_columns(detailed: bool) -> None:
    snapshot = make_snapshot()
    snapshot["system"]["hostname"] = "build-runner-17.ci.eu-west.example.internal"
    long_disk = make_disk(
        "/var/lib/docker/overlay2/0123456789abcdef/merged",
        device="/dev/mapper/vg0-a--very--long--logical--volume",
        fstype="overlay",
        used=900 * 2**40,
        total=1000 * 2**40,
        percent=90.0,
    )
    snapshot["metrics"]["disks"] = [long_disk, *snapshot["metrics"]["disks"]]
    snapshot["metrics"]["interfaces"][0].update(
        name="enp0s31f6-with-a-long-name",
        bytes_recv_per_sec=1000.0 * 2**20,
        bytes_sent_per_sec=1000.0 * 2**20,
        packets_recv_per_sec=987_654,
        packets_sent_per_sec=987_654,
        errin=12_345_678,
        errout=12_345_678,
        dropin=9_876_543_210,
        dropout=9_876_543_210,
    )
    hub = "Hub-side: http://a-long-hub-name.example.internal:8000"
    lines = render_at(80, snapshot, detailed, f"db-01 is online, latest snapshot 3 s ago ({hub})")
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("build-runner-…  up 1d 00:00  load 0.50 0.40 0.30  120 procs")
    assert lines[-1].startswith("db-01 is online, latest snapshot 3 s ago (")
    row = next(line for line in lines if line.startswith(" /var/lib/docker/"))
    assert "900.0 TiB" in row and "1000.0 TiB" in row and "90.0%" in row  # nothing cut away
    nic = next(line for line in lines if line.startswith(" enp0s31f6"))
    assert "1000.0 MiB/s" in nic
    if detailed:
        assert "988k/988k" in nic and "12M/12M" in nic and "9.9G/9.9G" in nic
    wide = render_at(160, snapshot, detailed, "db-01 is online")
    assert wide[0].startswith("build-runner-…")
    assert any("Network" in line and "Disks" in line for line in wide) is not detailed


def test_bad_arguments_exit_2_without_traceback(tmp_path: Any) -> None:
    assert run_top("--interval", "0").returncode == 2
    bad = tmp_path / "agent.json"
    bad.write_text('{"top_processes_count": "many"}')
    result = run_top("--config", str(bad))
    assert result.returncode == 2
    assert "top_processes_count" in result.stderr
    assert "Traceback" not in result.stderr


def test_frame_shows_alerts_and_statistics() -> None:
    snapshot = make_snapshot(metrics={"disks": [make_disk("/", percent=96.5)]})
    out = render(snapshot, cycles=4, total_duration_ms=100.0, last_duration_ms=20.0)
    assert "Alerts (2 active)" in out
    assert "Critical disk usage on /: 96.5% (threshold: 95%)" in out
    assert "Watched process 'ghost' is not running" in out
    assert "Collection: 4 cycles  last 20.0 ms  avg 25.0 ms" in out
    assert "postgres" in out


def test_frame_without_alerts_and_detailed_sections() -> None:
    snapshot = make_snapshot(watched_processes={})
    assert "Alerts: none active" in render(snapshot)
    detailed = render(make_snapshot(), detailed=True)
    assert "Watched processes" in detailed
    assert "Services: 1 running, 1 stopped  not running: cron" in detailed
    assert "Core 0 45°C" in detailed


def snap(cpu: float = 10, mem: float = 10, swap: float = 0, swap_total: int = 1, disk: float = 10):
    return make_snapshot(
        metrics={
            "cpu_percent": cpu,
            "memory_percent": mem,
            "swap": {"percent": swap, "total_bytes": swap_total},
            "disks": [make_disk("/data", percent=disk)],
        },
        watched_processes={},
    )


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (snap(), []),
        (snap(cpu=84.9), []),
        (snap(cpu=85), [(WARNING, "cpu")]),
        (snap(cpu=95), [(CRITICAL, "cpu")]),
        (snap(mem=80), [(WARNING, "memory")]),
        (snap(mem=90.1), [(CRITICAL, "memory")]),
        (snap(swap=80), [(WARNING, "swap")]),
        (snap(swap=99, swap_total=0), []),  # no swap configured
        (snap(disk=85), [(WARNING, "disk /data")]),
        (snap(disk=100), [(CRITICAL, "disk /data")]),
        (snap(cpu=86, disk=97), [(CRITICAL, "disk /data"), (WARNING, "cpu")]),
    ],
)
def test_alert_thresholds(snapshot: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert [(a.level, a.component) for a in evaluate(snapshot)] == expected


def test_custom_thresholds_and_dead_watched_process() -> None:
    snapshot = make_snapshot(metrics={"cpu_percent": 50.0})
    alerts = evaluate(snapshot, {"cpu": Threshold(40, 60)})
    assert [(a.level, a.component) for a in alerts] == [
        (CRITICAL, "process ghost"),
        (WARNING, "cpu"),
    ]
    assert alerts[1].message == "High CPU usage: 50.0% (threshold: 40%)"


def test_formatting_helpers() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(None) == "-"
    assert human_duration(93_784) == "1d 02:03"
    assert bar(50, width=10).plain == "[█████░░░░░]  50.0%"
    assert bar(150, width=4).plain == "[████] 150.0%"
