"""26.3 and 26.4: sizes say what they are (IEC), charts span the window asked for, and the
first live sample has no rate rather than a fake 0."""

from __future__ import annotations

import psutil
import pytest

from fleetwatch.agent.collectors.process_psutil import PsutilProcessSource
from fleetwatch.agent.live_sample import LiveSampler
from fleetwatch.hub.ui import charts
from fleetwatch.hub.ui.server import PROCESS_COLUMNS
from fleetwatch.hub.ui.units import fmt_bytes, fmt_rate
from fleetwatch.protocol.models import LiveSample


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (26.8e9, "25.0 GiB"),  # the example: 26.8e9 bytes were labelled "25.0 GB"
        (270.5e9, "251.9 GiB"),
        (512, "512 B"),
        (1536, "1.5 KiB"),
        (5 * 2**20, "5.0 MiB"),
        (3 * 2**40, "3.0 TiB"),
        (2 * 2**50, "2.0 PiB"),
        (None, "–"),
    ],
)
def test_sizes_are_labelled_iec(value: float | None, text: str) -> None:
    assert fmt_bytes(value) == text


def test_rates_and_chart_axis_and_process_column_are_iec() -> None:
    assert fmt_rate(2.5 * 2**20) == "2.5 MiB/s"
    assert "MiB/s" in charts.RATE_FMT and "KiB/s" in charts.RATE_FMT
    assert " MB/s" not in charts.RATE_FMT and " KB/s" not in charts.RATE_FMT
    assert {c["label"] for c in PROCESS_COLUMNS if c["field"] == "memory_mb"} == {"MiB"}


def test_time_series_axis_spans_the_window_not_the_data() -> None:
    now_ms = 1_800_000_000_000.0
    two_minutes = [[now_ms - 120_000 + i * 10_000, 5.0] for i in range(13)]
    options = charts.time_series(
        [("CPU %", "#000", two_minutes)], window_ms=(now_ms - 24 * 3_600_000, now_ms)
    )
    assert options["xAxis"]["min"] == now_ms - 24 * 3_600_000
    assert options["xAxis"]["max"] == now_ms
    fitted = charts.time_series([("CPU %", "#000", two_minutes)])
    assert "min" not in fitted["xAxis"]  # without a window ECharts fits the data


def test_first_live_sample_has_no_rates_then_real_ones() -> None:
    sampler = LiveSampler(psutil, PsutilProcessSource(psutil), (psutil.Error, OSError))
    first = sampler.sample(lambda _: None)
    assert set(first["network_rate"].values()) == {None}
    assert all(v is None for v in first["disk_io_rate"].values())
    LiveSample.model_validate(first)  # null rates are valid on the wire
    second = sampler.sample(lambda _: None)
    assert all(isinstance(v, float) for v in second["network_rate"].values())
    LiveSample.model_validate(second)
