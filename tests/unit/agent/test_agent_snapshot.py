"""SnapshotCollector end to end on injected sources: shape, isolation of failures, state."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from agent_fakes import FIXTURES, FakeClock, FakeNvml, FakeProc, FakePsutil, Temp, raising

from fleetwatch.agent.snapshot import SnapshotCollector, Sources
from fleetwatch.protocol.agent_config import validate
from fleetwatch.protocol.models import LiveSample, Snapshot
from fleetwatch.protocol.version import PROTOCOL_VERSION


def sysv_runner(argv: Sequence[str], timeout_seconds: float, *, merge_stderr: bool = False) -> str:
    if list(argv) == ["service", "--status-all"]:
        return (FIXTURES / "service_status_all.txt").read_text()
    raise FileNotFoundError(argv[0])


def make_sources(tmp_path: Path, **overrides: Any) -> Sources:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, "init", ppid=0, cpu_seconds=3.0, start_seconds=0.0)
    proc.add(50, "worker", cpu_seconds=500.0, threads=8, rss_pages=2000)
    proc.add(60, "idle", cmdline=["/usr/bin/idle", "--quiet"])
    values: dict[str, Any] = {
        "proc_root": proc.root,
        "os_release_path": FIXTURES / "os-release",
        "nvml_loader": lambda: None,
        "gpu_runner": raising(FileNotFoundError("nvidia-smi")),
        "service_runner": sysv_runner,
        "systemd_dir": tmp_path / "no-systemd",
        "platform": "linux",
        "docker_socket": str(tmp_path / "docker.sock"),
        "self_pid": 999_999,
        "clock": FakeClock(),
        "services_in_background": False,
    }
    values.update(overrides)
    return Sources(**values)


def test_full_snapshot_shape(tmp_path: Path) -> None:
    config = validate({"top_processes_count": 2, "watched_processes": ["worker", "ghost"]})
    collector = SnapshotCollector(config, sources=make_sources(tmp_path))
    snap = collector.collect()
    Snapshot.model_validate(snap)
    assert snap["protocol_version"] == PROTOCOL_VERSION
    assert len(snap["snapshot_id"]) == 32 and snap["collected_at"].endswith("+00:00")
    metrics = snap["metrics"]
    assert metrics["process_count"] == 3 and metrics["thread_count"] == 10
    assert metrics["handle_count"] == 1234  # from the fake sys/fs/file-nr
    assert snap["processes"][0]["pid"] == 50
    assert snap["watched_processes"]["worker"]["alive"] is True
    assert snap["watched_processes"]["ghost"] == {"alive": False, "instances": []}
    assert snap["system"]["os_release"] == "Debian GNU/Linux 12 (bookworm)"
    assert {s["service_name"] for s in snap["services"]} >= {"postgresql", "ssh"}
    sources = snap["collection"]["sources"]
    assert sources["processes"]["source"] == "procfs"
    assert sources["services"]["source"] == "sysv"
    assert sources["gpu"]["source"] == "none" and snap["gpus"] == []
    assert sources["containers"]["detail"].startswith("no Docker socket")
    assert collector.stats.cycles == 1 and collector.stats.last_duration_ms > 0


def test_unreadable_source_gives_partial_data_and_one_logged_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    denied = PermissionError(13, "Permission denied", "/proc/net/dev")
    psutil = FakePsutil(
        net_io_counters=raising(denied), virtual_memory=raising(OSError(5, "I/O error"))
    )
    collector = SnapshotCollector(validate({}), sources=make_sources(tmp_path, psutil=psutil))
    with caplog.at_level(logging.WARNING, logger="fleetwatch.agent.collect"):
        first = collector.collect()
        second = collector.collect()
        live = collector.collect_live()
    for snap in (first, second):
        Snapshot.model_validate(snap)
        assert snap["metrics"]["interfaces"] == []
        assert snap["metrics"]["memory_total"] == 0 and snap["metrics"]["memory"] is None
        assert snap["metrics"]["cpu"]["count_logical"] >= 1  # other families unaffected
        assert len(snap["processes"]) == 3
        assert sorted(snap["collection"]["warnings"]) == [
            "memory: [Errno 5] I/O error",
            "network: cannot read interface counters: "
            "[Errno 13] Permission denied: '/proc/net/dev'",
        ]
    LiveSample.model_validate(live)
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2  # each problem logged once, not once per cycle
    assert collector.stats.warnings_total == 4
    assert collector.stats.last_warnings == second["collection"]["warnings"]


def test_live_samples_have_rates_after_the_first(tmp_path: Path) -> None:
    sources = make_sources(tmp_path)
    collector = SnapshotCollector(validate({}), sources=sources)
    first = collector.collect_live()
    LiveSample.model_validate(first)
    assert first["network_rate"]["bytes_recv_per_sec"] is None  # no earlier counter: no rate
    assert first["process_count"] == 3 and first["thread_count"] == 345  # from loadavg
    sources.clock.advance(1.0)  # type: ignore[attr-defined]
    second = collector.collect_live()
    LiveSample.model_validate(second)
    assert second["handle_count"] == 1234
    assert second["network_rate"]["bytes_recv_per_sec"] is not None


def test_snapshot_rates_start_empty_and_live_keeps_separate_state(tmp_path: Path) -> None:
    sources = make_sources(tmp_path)
    collector = SnapshotCollector(validate({}), sources=sources)
    collector.collect_live()
    sources.clock.advance(1.0)  # type: ignore[attr-defined]
    snap = collector.collect()
    assert snap["metrics"]["network"]["bytes_recv_per_sec"] is None  # first full snapshot
    sources.clock.advance(1.0)  # type: ignore[attr-defined]
    assert collector.collect()["metrics"]["network"]["bytes_recv_per_sec"] is not None


def test_skipped_process_scan_reuses_the_last_one(tmp_path: Path) -> None:
    sources = make_sources(tmp_path)
    collector = SnapshotCollector(validate({}), sources=sources)
    first = collector.collect()
    FakeProc(sources.proc_root).add(70, "newcomer")  # type: ignore[arg-type]
    collector.scan_processes = False
    skipped = collector.collect()
    assert skipped["processes"] == first["processes"]
    assert "skipped" in skipped["collection"]["sources"]["processes"]["detail"]
    collector.scan_processes = True
    assert collector.collect()["metrics"]["process_count"] == 4


def test_skipped_cycles_repeat_the_last_sensor_and_gpu_readings(tmp_path: Path) -> None:
    """B2: on the cycles the budget skips, sensors and GPUs are not read either."""
    nvml, sensor_reads = FakeNvml(), []

    def temperatures() -> dict[str, list[Temp]]:
        sensor_reads.append(1)
        return {"coretemp": [Temp("Package id 0", 40.0 + len(sensor_reads), 80.0, 100.0)]}

    sources = make_sources(
        tmp_path,
        nvml_loader=lambda: nvml,
        psutil=FakePsutil(
            sensors_temperatures=temperatures,
            sensors_fans=lambda: {},
            sensors_battery=lambda: None,
        ),
    )
    collector = SnapshotCollector(validate({}), sources=sources)
    clock: FakeClock = sources.clock  # type: ignore[assignment]

    def cycle(full: bool) -> dict[str, Any]:
        clock.advance(30.0)  # past the sensors' own refresh interval
        collector.scan_processes = full
        return collector.collect()

    first = cycle(True)
    assert (len(sensor_reads), nvml.reads) == (1, 1)
    skipped = [cycle(False) for _ in range(3)]
    assert (len(sensor_reads), nvml.reads) == (1, 1)
    for snap in skipped:
        Snapshot.model_validate(snap)
        assert snap["gpus"] == first["gpus"]
        assert snap["metrics"]["sensors"] == first["metrics"]["sensors"]
        for family in ("sensors", "gpu"):
            status = snap["collection"]["sources"][family]
            assert status["detail"] == "read skipped this cycle (agent over CPU budget)"
            assert status["source"] == first["collection"]["sources"][family]["source"]
    again = cycle(True)
    assert (len(sensor_reads), nvml.reads) == (2, 2)
    assert again["metrics"]["sensors"]["temperatures"][0]["current_celsius"] == 42.0
    assert again["collection"]["sources"]["gpu"] == {"source": "nvml", "detail": None}


def test_reconfigure_applies_new_settings(tmp_path: Path) -> None:
    collector = SnapshotCollector(validate({}), sources=make_sources(tmp_path))
    assert collector.collect()["watched_processes"] == {}
    collector.reconfigure(
        validate(
            {
                "top_processes_count": 1,
                "watched_processes": ["idle"],
                "monitored_services": ["ssh"],
                "sensors_enabled": False,
                "gpu_enabled": False,
                "containers_enabled": False,
            }
        )
    )
    snap = collector.collect()
    Snapshot.model_validate(snap)
    assert snap["watched_processes"]["idle"]["alive"] is True
    assert [s["service_name"] for s in snap["services"]] == ["ssh"]
    assert len(snap["processes"]) <= 2
    for family in ("sensors", "gpu", "containers"):
        assert snap["collection"]["sources"][family]["detail"].endswith("is false")


def test_psutil_process_source_where_there_is_no_proc(tmp_path: Path) -> None:
    sources = make_sources(tmp_path, proc_root=None)
    collector = SnapshotCollector(validate({"watched_processes": ["pytest"]}), sources=sources)
    snap = collector.collect()
    Snapshot.model_validate(snap)
    assert snap["collection"]["sources"]["processes"]["source"] == "psutil"
    assert snap["metrics"]["process_count"] > 1
    assert snap["processes"]
    LiveSample.model_validate(collector.collect_live())


def test_missing_proc_file_costs_only_its_own_number(tmp_path: Path) -> None:
    sources = make_sources(tmp_path)
    (sources.proc_root / "sys" / "fs" / "file-nr").unlink()  # type: ignore[operator]
    collector = SnapshotCollector(validate({}), sources=sources)
    snap = collector.collect()
    Snapshot.model_validate(snap)
    assert snap["metrics"]["handle_count"] is None
    assert snap["metrics"]["process_count"] == 3
    [warning] = snap["collection"]["warnings"]
    assert warning.startswith("handles: [Errno 2] No such file or directory")
    live = collector.collect_live()
    assert live["handle_count"] == 0 and live["process_count"] == 3


def test_protocol_list_bounds_are_respected(tmp_path: Path) -> None:
    many = "".join(f" [ + ]  svc{i}\n" for i in range(6000))

    def runner(argv: Sequence[str], timeout_seconds: float, *, merge_stderr: bool = False) -> str:
        return many

    collector = SnapshotCollector(
        validate({}), sources=make_sources(tmp_path, service_runner=runner)
    )
    snap = collector.collect()
    assert len(snap["services"]) == 5000
    Snapshot.model_validate(snap)
