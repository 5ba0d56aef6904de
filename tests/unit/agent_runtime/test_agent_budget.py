"""B2: the process scan, sensors and GPUs back off when the agent is over its CPU budget."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from agent_runtime_support import ScriptedHub, wait_for, write_config
from fleetwatch.agent.budget import MAX_SCAN_EVERY, BudgetGovernor
from fleetwatch.agent.daemon import AgentDaemon
from fleetwatch.agent.snapshot import SnapshotCollector, Sources
from fleetwatch.protocol.models import Snapshot


class FakeSelf:
    """The data source: CPU seconds consumed and RSS, advanced by the test."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.now = 0.0
        self.rss = 20 * 1024 * 1024

    def sample(self) -> tuple[float, int]:
        return self.cpu, self.rss

    def clock(self) -> float:
        return self.now

    def tick(self, cpu_percent: float, seconds: float = 10.0) -> None:
        self.cpu += cpu_percent / 100 * seconds
        self.now += seconds


def test_backs_off_over_budget_and_recovers() -> None:
    fake = FakeSelf()
    gov = BudgetGovernor(fake.sample, fake.clock)
    scans = []
    for _ in range(12):
        fake.tick(10.0)  # 10 % of a core, budget 2 %
        scans.append(gov.decide(2.0, 64))
    assert gov.scan_every > 1
    assert gov.over_budget
    assert scans.count(False) > scans.count(True)
    report = gov.report()
    assert report["process_scan_every"] == gov.scan_every
    assert report["over_budget"] is True
    assert 9 < report["cpu_percent"] <= 10.0
    for _ in range(40):
        fake.tick(0.1)
        gov.decide(2.0, 64)
    assert gov.scan_every == 1
    assert gov.over_budget is False
    assert all(gov.decide(2.0, 64) for _ in range(3))


def test_scan_every_is_capped() -> None:
    fake = FakeSelf()
    gov = BudgetGovernor(fake.sample, fake.clock)
    for _ in range(30):
        fake.tick(50.0)
        gov.decide(1.0, 64)
    assert gov.scan_every == MAX_SCAN_EVERY


def test_rss_over_budget_is_reported() -> None:
    fake = FakeSelf()
    fake.rss = 100 * 1024 * 1024
    gov = BudgetGovernor(fake.sample, fake.clock)
    fake.tick(0.1)
    assert gov.decide(2.0, 64) is True  # memory alone does not postpone the scan
    assert gov.report()["over_budget"] is True
    assert gov.report()["rss_bytes"] == 100 * 1024 * 1024


def test_real_self_measurement() -> None:
    gov = BudgetGovernor()
    sum(i * i for i in range(200_000))
    gov.measure()
    assert gov.rss_bytes > 5 * 1024 * 1024
    assert gov.cpu_percent is not None and gov.cpu_percent >= 0


class _NvmlError(Exception):
    pass


class OneGpuNvml:
    """The NVML data source (no GPU here): one board; `reads` counts utilization readings."""

    NVMLError = _NvmlError
    NVML_TEMPERATURE_GPU = 0

    def __init__(self) -> None:
        self.reads = 0

    def nvmlInit(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.54.14"

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return "NVIDIA L4"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        self.reads += 1
        return SimpleNamespace(gpu=40 + self.reads, memory=10)

    def __getattr__(self, name: str) -> Any:
        def unsupported(*_args: Any) -> Any:
            raise _NvmlError("Not Supported")

        return unsupported


class SensorPsutil:
    """The real psutil, except the sensors (none in this container): one temperature."""

    def __init__(self) -> None:
        self.reads = 0

    def sensors_temperatures(self) -> dict[str, list[Any]]:
        self.reads += 1
        reading = SimpleNamespace(label="Package id 0", current=50.0, high=80.0, critical=95.0)
        return {"coretemp": [reading]}

    def sensors_fans(self) -> dict[str, list[Any]]:
        return {}

    def sensors_battery(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(psutil, name)


def test_over_budget_daemon_also_postpones_sensors_and_gpus(tmp_path: Path) -> None:
    """A real daemon cycle with the real collector: the governor's input (the agent's own CPU
    time) says half a core against a 5 % budget, so after the first cycle the sensors and the
    GPU are not read again; every snapshot still carries them and the agent's own figures."""
    clock = FakeSelf()
    nvml, fake_psutil = OneGpuNvml(), SensorPsutil()

    def sampler() -> tuple[float, int]:
        clock.tick(50.0, seconds=30.0)  # past the sensors' own 10 s refresh, every cycle
        return clock.sample()

    def factory(config: dict[str, Any]) -> SnapshotCollector:
        sources = Sources(
            psutil=fake_psutil,
            nvml_loader=lambda: nvml,
            gpu_runner=_missing,
            service_runner=_missing,
            systemd_dir=tmp_path / "no-systemd",
            docker_socket=str(tmp_path / "no-docker.sock"),
            clock=clock.clock,
            services_in_background=False,
        )
        return SnapshotCollector(config, sources=sources)

    with ScriptedHub() as hub:
        hub.state.keys["srv-a"] = "key-a"
        cfg = write_config(
            tmp_path / "agent.json",
            dashboard_url=hub.url,
            server_id="srv-a",
            api_key="key-a",
            collection_interval_seconds=1,
            retry_delay_seconds=0.2,
            log_file="agent.log",
            budget_cpu_percent=5.0,
        )
        daemon = AgentDaemon(cfg, collector_factory=factory, to_stderr=False)
        daemon.governor = BudgetGovernor(sampler, clock.clock)
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(hub.state.snapshots) >= 5, timeout=30, what="5 snapshots")
        finally:
            daemon.request_stop()
            thread.join(10)
        snapshots = list(hub.state.snapshots)
    assert (nvml.reads, fake_psutil.reads) == (1, 1)  # first cycle only: nothing to repeat yet
    first = snapshots[0]
    assert first["gpus"][0]["utilization_percent"] == 41.0
    for snap in snapshots[1:]:
        Snapshot.model_validate(snap)
        assert snap["gpus"] == first["gpus"]
        assert snap["metrics"]["sensors"] == first["metrics"]["sensors"]
        for family in ("processes", "sensors", "gpu"):
            assert "skipped this cycle" in snap["collection"]["sources"][family]["detail"]
        agent = snap["agent"]
        assert agent["over_budget"] is True and agent["process_scan_every"] >= 2
        assert agent["cpu_percent"] == pytest.approx(50.0, abs=1)
        assert agent["rss_bytes"] == 20 * 1024 * 1024


def _missing(argv: Sequence[str], timeout_seconds: float, *, merge_stderr: bool = False) -> str:
    raise FileNotFoundError(argv[0])
