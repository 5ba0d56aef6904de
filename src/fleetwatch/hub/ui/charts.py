"""ECharts options with units on the axes and tooltips, one colour per metric everywhere."""

from __future__ import annotations

from typing import Any

from fleetwatch.hub.ui.units import CPU_COLOR, MEMORY_COLOR

AXIS = {"color": "#94a3b8"}
SPLIT = {"lineStyle": {"color": "rgba(148,163,184,.15)"}}
PERCENT_FMT = "(v) => v == null ? '–' : v.toFixed(1) + ' %'"
#: IEC like `units.fmt_rate`: 1 KiB/s = 1024 B/s
RATE_FMT = (
    "(v) => v == null ? '–' : (v >= 1073741824 ? (v / 1073741824).toFixed(1) + ' GiB/s'"
    " : v >= 1048576 ? (v / 1048576).toFixed(1) + ' MiB/s'"
    " : (v / 1024).toFixed(1) + ' KiB/s')"
)
COUNT_FMT = "(v) => v == null ? '–' : Math.round(v)"


def time_series(
    series: list[tuple[str, str, list[list[float | None]]]],
    *,
    unit: str = "%",
    y_max: float | None = None,
    area: bool = True,
    window_ms: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Lines over time. `series` = (name, colour, [[epoch_ms, value], ...]). `window_ms`
    (start, end) pins the time axis to the window asked for, as Grafana does, instead of
    fitting it to the data (24 h of a server with 2 minutes of data is a short line at
    the right, not 2 minutes stretched over the chart)."""
    x_axis: dict[str, Any] = {"type": "time", "axisLabel": AXIS, "splitLine": {"show": False}}
    if window_ms is not None:
        x_axis["min"], x_axis["max"] = window_ms
    fmt = {"%": PERCENT_FMT, "B/s": RATE_FMT}.get(unit, COUNT_FMT)
    y_axis: dict[str, Any] = {
        "type": "value",
        "name": unit,
        "axisLabel": {**AXIS, ":formatter": fmt} if unit == "B/s" else AXIS,
        "splitLine": SPLIT,
        "min": 0,
    }
    if y_max is not None:
        y_axis["max"] = y_max
    return {
        "backgroundColor": "transparent",
        "animation": False,
        "tooltip": {"trigger": "axis", ":valueFormatter": fmt},
        "legend": {"data": [s[0] for s in series], "textStyle": AXIS, "top": 0},
        "grid": {"left": 56, "right": 16, "top": 30, "bottom": 28},
        "xAxis": x_axis,
        "yAxis": y_axis,
        "series": [
            {
                "name": name,
                "type": "line",
                "showSymbol": len(points) == 1,  # a lone point draws no line
                "sampling": "lttb",
                "data": points,
                "itemStyle": {"color": color},
                "lineStyle": {"width": 1.5},
                **({"areaStyle": {"opacity": 0.15}} if area else {}),
            }
            for name, color, points in series
        ],
    }


def bars(names: list[str], values: list[float | None], color: str) -> dict[str, Any]:
    """Vertical bars, 0-100 % (per-core CPU)."""
    return {
        "backgroundColor": "transparent",
        "animation": False,
        "tooltip": {"trigger": "axis", ":valueFormatter": PERCENT_FMT},
        "grid": {"left": 40, "right": 10, "top": 10, "bottom": 24},
        "xAxis": {"type": "category", "data": names, "axisLabel": AXIS},
        "yAxis": {"type": "value", "max": 100, "name": "%", "axisLabel": AXIS, "splitLine": SPLIT},
        "series": [{"type": "bar", "data": values, "itemStyle": {"color": color}}],
    }


def comparison(servers: list[dict[str, Any]]) -> dict[str, Any]:
    """CPU and memory % of (the first 60 of) `servers` side by side (overview)."""
    names = [s["name"] for s in servers[:60]]
    cpu = [(s.get("metrics") or {}).get("cpu_percent") for s in servers[:60]]
    mem = [(s.get("metrics") or {}).get("memory_percent") for s in servers[:60]]
    return {
        "backgroundColor": "transparent",
        "tooltip": {
            "trigger": "axis",
            ":valueFormatter": "(v) => v == null ? '–' : v.toFixed(1) + ' %'",
        },
        "legend": {"data": ["CPU %", "Memory %"], "textStyle": {"color": "#94a3b8"}},
        "grid": {"left": 40, "right": 10, "top": 30, "bottom": 70},
        "xAxis": {
            "type": "category",
            "data": names,
            "axisLabel": {"rotate": 40, "color": "#94a3b8"},
        },
        "yAxis": {"type": "value", "max": 100, "name": "%", "axisLabel": {"color": "#94a3b8"}},
        "series": [
            {"name": "CPU %", "type": "bar", "data": cpu, "itemStyle": {"color": CPU_COLOR}},
            {"name": "Memory %", "type": "bar", "data": mem, "itemStyle": {"color": MEMORY_COLOR}},
        ],
    }
