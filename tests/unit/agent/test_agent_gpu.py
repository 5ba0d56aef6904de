"""GPUs: a fake NVML module, recorded `nvidia-smi -q -x` output, and no GPU at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from agent_fakes import FIXTURES, FakeClock, FakeNvml

from fleetwatch.agent.collectors.gpu import (
    GPU_ABSENT_REPROBE_SECONDS,
    NVIDIA_SMI_REFRESH_SECONDS,
    GpuCollector,
    GpuSources,
)
from fleetwatch.agent.collectors.nvidia_smi import parse_nvidia_smi_xml

SMI_XML = (FIXTURES / "nvidia_smi_q_x.xml").read_text()


class CountingRunner:
    def __init__(self, output: str | None) -> None:
        self.output = output
        self.calls = 0

    def __call__(
        self, argv: Sequence[str], timeout_seconds: float, *, merge_stderr: bool = False
    ) -> str:
        self.calls += 1
        if self.output is None:
            raise FileNotFoundError("nvidia-smi")
        return self.output


def collect(collector: GpuCollector) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return collector.collect(lambda message: None)


def test_nvml_is_preferred() -> None:
    runner = CountingRunner(SMI_XML)
    rows, status = collect(GpuCollector(GpuSources(FakeNvml, runner)))
    assert status == {"source": "nvml", "detail": None}
    assert rows == [
        {
            "index": 0,
            "name": "NVIDIA GeForce RTX 4090",
            "uuid": "GPU-11111111-2222-3333-4444-555555555555",
            "driver_version": "550.54.14",
            "memory_total_bytes": 24 * 1024**3,
            "memory_used_bytes": 2 * 1024**3,
            "memory_free_bytes": 22 * 1024**3,
            "utilization_percent": 63.0,
            "temperature_celsius": 58.0,
            "power_draw_watts": None,
            "power_limit_watts": 450.0,
        }
    ]
    assert runner.calls == 0


def test_nvidia_smi_fallback_when_nvml_cannot_start() -> None:
    clock = FakeClock()
    runner = CountingRunner(SMI_XML)
    collector = GpuCollector(
        GpuSources(lambda: FakeNvml(init_error="NVML Shared Library Not Found"), runner),
        clock=clock,
    )
    rows, status = collect(collector)
    assert status["source"] == "nvidia-smi"
    assert [r["name"] for r in rows] == ["NVIDIA A100-PCIE-40GB", "Tesla T4"]
    a100, t4 = rows
    assert a100["memory_total_bytes"] == 40960 * 1024**2
    assert a100["utilization_percent"] == 37.0
    assert a100["temperature_celsius"] == 45.0
    assert a100["power_draw_watts"] == 70.25 and a100["power_limit_watts"] == 250.0
    assert a100["driver_version"] == "535.154.05"
    assert t4["index"] == 1 and t4["power_draw_watts"] is None and t4["power_limit_watts"] == 70.0
    # nvidia-smi costs a process start: reused until the refresh interval passes
    clock.advance(1.0)
    collect(collector)
    assert runner.calls == 1
    clock.advance(NVIDIA_SMI_REFRESH_SECONDS)
    collect(collector)
    assert runner.calls == 2


def test_no_gpu_is_remembered_and_not_probed_every_cycle() -> None:
    clock = FakeClock()
    runner = CountingRunner(None)
    collector = GpuCollector(GpuSources(lambda: None, runner), clock=clock)
    rows, status = collect(collector)
    assert rows == []
    assert status["source"] == "none"
    assert "pynvml" in status["detail"] and "nvidia-smi: not installed" in status["detail"]
    for _ in range(100):
        clock.advance(1.0)
        collect(collector)
    assert runner.calls == 1
    clock.advance(GPU_ABSENT_REPROBE_SECONDS)
    collect(collector)
    assert runner.calls == 2


def test_nvml_with_zero_gpus_and_smi_reporting_none() -> None:
    empty = "<nvidia_smi_log><driver_version>535</driver_version></nvidia_smi_log>"
    rows, status = collect(
        GpuCollector(GpuSources(lambda: FakeNvml(count=0), CountingRunner(empty)))
    )
    assert rows == []
    assert status["detail"] == "NVML: no GPU found; nvidia-smi: no GPU found"


def test_garbage_xml_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unreadable nvidia-smi XML"):
        parse_nvidia_smi_xml("NVIDIA-SMI has failed because it couldn't communicate")
    rows, status = collect(GpuCollector(GpuSources(lambda: None, CountingRunner("garbage <"))))
    assert rows == [] and "unreadable nvidia-smi XML" in status["detail"]
