"""The performance monitor tab: live charts, per-core bars, coloured stat cards, benchmark.

Window 1–30 min, refresh every 2 / 5 / 10 s with pause; the benchmark shows min / avg / max
over 5–60 min as range bars. Samples come from `services.live` (what the agent's live mode
sends); charts are updated in place (`chart.options[...]` then `update()`).

Live on demand (A6): while the tab is shown, the page asks the server's agent to stream a
sample every second (`services.live_demand.watch`, renewed every `WATCH_RENEW_SECONDS`, well
inside the watch's 90 s); when the tab is left or the page closes, the renewals stop and the
agent falls back to its own live settings when the watch runs out. The tab polls the store
only while it is shown.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nicegui import ui

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import live, live_demand
from fleetwatch.hub.ui import charts
from fleetwatch.hub.ui.units import (
    CPU_COLOR,
    MEMORY_COLOR,
    NET_COLORS,
    SWAP_COLOR,
    fmt_percent,
    fmt_rate,
    level_color,
    limits,
)

WINDOWS = {1: "1 min", 2: "2 min", 5: "5 min", 10: "10 min", 15: "15 min", 30: "30 min"}
REFRESH = {2: "2 s", 5: "5 s", 10: "10 s"}
#: how often a shown live tab renews its watch (the watch lasts live_demand.WATCH_SECONDS)
WATCH_RENEW_SECONDS = 45.0
BENCH_WINDOWS = {5: "5 min", 15: "15 min", 30: "30 min", 60: "60 min"}
BENCH_ROWS = (
    ("cpu_percent", "CPU", "%"),
    ("memory_percent", "Memory", "%"),
    ("swap_percent", "Swap", "%"),
    ("process_count", "Processes", ""),
    ("thread_count", "Threads", ""),
)


def _series(samples: list[dict[str, Any]], path: tuple[str, ...]) -> list[list[float | None]]:
    out: list[list[float | None]] = []
    for s in samples:
        value: Any = s
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out.append([s["ts"] * 1000, value if isinstance(value, int | float) else None])
    return out


def _range_bar(stats: dict[str, Any], unit: str) -> str:
    lo, avg, hi = stats.get("min"), stats.get("avg"), stats.get("max")
    if lo is None or hi is None or avg is None:
        return '<span class="fw-muted">no samples</span>'
    scale = 100.0 if unit == "%" else max(hi, 1.0) * 1.1
    left, width, mid = lo / scale * 100, max((hi - lo) / scale * 100, 0.8), avg / scale * 100

    def fmt(v: float) -> str:
        return f"{v:.1f}%" if unit == "%" else f"{v:.0f}"

    return (
        '<div style="display:flex;align-items:center;gap:10px;font-size:12px">'
        f'<span class="fw-num" style="width:60px">{fmt(lo)}</span>'
        '<div style="position:relative;flex:1;height:10px;background:var(--fw-border);'
        'border-radius:5px">'
        f'<div style="position:absolute;left:{left:.1f}%;width:{width:.1f}%;height:100%;'
        'background:#3b82f680;border-radius:5px"></div>'
        f'<div style="position:absolute;left:{mid:.1f}%;width:3px;height:100%;background:#3b82f6">'
        "</div></div>"
        f'<span class="fw-num" style="width:60px;text-align:right">{fmt(hi)}</span>'
        f'<span class="fw-muted fw-num" style="width:80px">avg {fmt(avg)}</span></div>'
    )


class Monitor:
    """What the page tells the tab: whether it is shown."""

    def __init__(self, show: Callable[[bool], Awaitable[None]]) -> None:
        self.show = show


async def monitor(
    ctx: HubContext,
    server_id: str,
    thresholds: Mapping[str, float] | None = None,
    shown: bool = False,
) -> Monitor:
    """Build the tab; while it is `shown` (see `Monitor.show`) and not paused it polls the
    store, and it keeps the server's agent streaming. Stat cards are coloured by the
    server's effective `thresholds` (cpu/memory/swap warning, critical)."""
    state: dict[str, Any] = {"window": 5, "bench": 15, "paused": False}
    with ui.row().classes("w-full items-center gap-3"):
        ui.toggle(WINDOWS, value=5, on_change=lambda e: _set("window", e.value)).props(
            "dense no-caps"
        ).mark("live-window")
        refresh = ui.toggle(REFRESH, value=5).props("dense no-caps").mark("live-refresh")
        pause = ui.button("Pause", icon="pause").props("flat dense").mark("live-pause")
        status = ui.label("").classes("text-xs fw-muted").mark("live-status")
    cards_row = ui.row().classes("w-full gap-3")
    with ui.grid().classes("w-full gap-3 grid-cols-1 lg:grid-cols-2"):
        chart_specs = {
            "cpu": ("CPU / memory / swap", "%", 100.0),
            "net": ("Network rate", "B/s", None),
            "disk": ("Disk I/O", "B/s", None),
            "cores": ("Per-core CPU (latest)", "%", 100.0),
        }
        charts_by_key: dict[str, Any] = {}
        for key, (title, unit, y_max) in chart_specs.items():
            with ui.card().classes("fw-card p-3"):
                ui.label(title).classes("font-semibold")
                options = (
                    charts.bars([], [], CPU_COLOR)
                    if key == "cores"
                    else charts.time_series([], unit=unit, y_max=y_max)
                )
                charts_by_key[key] = ui.echart(options).classes("w-full h-56").mark(f"live-{key}")
    with ui.card().classes("fw-card p-3 w-full"):
        with ui.row().classes("items-center gap-3"):
            ui.label("Benchmark (min / avg / max)").classes("font-semibold")
            ui.toggle(BENCH_WINDOWS, value=15, on_change=lambda e: _set("bench", e.value)).props(
                "dense no-caps"
            ).mark("bench-window")
        bench_html = ui.html("").classes("w-full").mark("benchmark")

    def _set(key: str, value: Any) -> None:
        state[key] = value

    async def tick() -> None:
        if state["paused"]:
            return

        def read(conn: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            samples = live.read_samples(conn, server_id, float(state["window"]))
            return samples, live.read_benchmark(conn, server_id, float(state["bench"]))

        samples, bench = await ctx.db.read(read)
        _draw(samples, bench)

    def _draw(samples: list[dict[str, Any]], bench: dict[str, Any]) -> None:
        status.text = f"{len(samples)} samples in the last {state['window']} min"
        cpu = charts_by_key["cpu"]
        cpu.options["series"] = charts.time_series(
            [
                ("CPU %", CPU_COLOR, _series(samples, ("cpu_percent",))),
                ("Memory %", MEMORY_COLOR, _series(samples, ("memory_percent",))),
                ("Swap %", SWAP_COLOR, _series(samples, ("swap_percent",))),
            ]
        )["series"]
        cpu.options["legend"]["data"] = ["CPU %", "Memory %", "Swap %"]
        for key, group, names in (
            ("net", "network_rate", ("bytes_sent_per_sec", "bytes_recv_per_sec")),
            ("disk", "disk_io_rate", ("read_bytes_per_sec", "write_bytes_per_sec")),
        ):
            labels = ("Sent", "Received") if key == "net" else ("Read", "Write")
            chart = charts_by_key[key]
            chart.options["series"] = charts.time_series(
                [(labels[i], NET_COLORS[i], _series(samples, (group, names[i]))) for i in (0, 1)]
            )["series"]
            chart.options["legend"]["data"] = list(labels)
        # the axis spans the chosen window (ECharts would stretch one sample over days)
        until_ms = time.time() * 1000
        for key in ("cpu", "net", "disk"):
            axis = charts_by_key[key].options["xAxis"]
            axis["min"], axis["max"] = until_ms - state["window"] * 60_000, until_ms
        latest = samples[-1] if samples else {}
        cores = latest.get("cpu_per_core") or []
        bars = charts_by_key["cores"]
        bars.options["xAxis"]["data"] = [str(i) for i in range(len(cores))]
        bars.options["series"][0]["data"] = cores
        for chart in charts_by_key.values():
            chart.update()
        _stat_cards(latest)
        bench_html.content = (
            "".join(
                f'<div style="margin:6px 0"><div style="font-size:12px">{label}</div>'
                f"{_range_bar(bench.get(key) or {}, unit)}</div>"
                for key, label, unit in BENCH_ROWS
            )
            + '<div class="fw-muted" style="font-size:11px">'
            + f"{bench.get('samples', 0)} samples</div>"
        )

    def _level(latest: dict[str, Any], family: str) -> str:
        return level_color(latest.get(f"{family}_percent"), *limits(family, thresholds))

    def _stat_cards(latest: dict[str, Any]) -> None:
        cards_row.clear()
        net = latest.get("network_rate") or {}
        dio = latest.get("disk_io_rate") or {}
        values = (
            ("CPU", fmt_percent(latest.get("cpu_percent")), _level(latest, "cpu")),
            ("Memory", fmt_percent(latest.get("memory_percent")), _level(latest, "memory")),
            ("Swap", fmt_percent(latest.get("swap_percent")), _level(latest, "swap")),
            ("Net ↑", fmt_rate(net.get("bytes_sent_per_sec")), NET_COLORS[0]),
            ("Net ↓", fmt_rate(net.get("bytes_recv_per_sec")), NET_COLORS[1]),
            (
                "Disk R/W",
                f"{fmt_rate(dio.get('read_bytes_per_sec'))} / "
                f"{fmt_rate(dio.get('write_bytes_per_sec'))}",
                NET_COLORS[0],
            ),
            ("Processes", str(latest.get("process_count", "–")), "#94a3b8"),
        )
        with cards_row:
            for label, text, color in values:
                with ui.card().classes("fw-card px-3 py-2").style(f"border-left:4px solid {color}"):
                    ui.label(label).classes("text-xs fw-muted")
                    ui.label(text).classes("text-lg font-bold fw-num").mark(f"live-card-{label}")

    def toggle_pause() -> None:
        state["paused"] = not state["paused"]
        pause.text = "Resume" if state["paused"] else "Pause"
        pause.props(f"icon={'play_arrow' if state['paused'] else 'pause'}")

    async def renew() -> None:
        await live_demand.watch(ctx, server_id)

    pause.on_click(toggle_pause)
    timer: ui.timer = ui.timer(5.0, tick, active=False)
    watcher = ui.timer(WATCH_RENEW_SECONDS, renew, active=False)
    refresh.on_value_change(lambda e: setattr(timer, "interval", float(e.value)))

    async def show(on: bool) -> None:
        timer.active = watcher.active = on
        if on:
            await renew()
            await tick()

    await show(shown)
    return Monitor(show)
