"""The Hub page (H15): the hub process watching itself (`services/selfmon.py`): its latest
figures, the memory trend with the verdict, and 24 hours of memory, threads, open files and
connections. Refreshed with each new sample."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.hub.services.selfmon import SelfMonitor, monitor_of
from fleetwatch.hub.ui import charts
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import frame, page_heading
from fleetwatch.hub.ui.units import CPU_COLOR, MEMORY_COLOR, NET_COLORS, fmt_bytes, fmt_duration

MIB = 1 << 20


def _tiles(monitor: SelfMonitor) -> list[tuple[str, str]]:
    view = monitor.view()
    now = view["current"] or {}
    gen = now.get("gc_collections") or (0, 0, 0)
    uptime = time.time() - hub_ctx().started_at
    return [
        ("Memory (RSS)", fmt_bytes(now.get("rss_bytes"))),
        ("Ingest workers (RSS)", fmt_bytes(now.get("workers_rss_bytes"))),
        ("Threads", str(now.get("threads", "–"))),
        ("Open files", str(now.get("open_files", "–"))),
        ("TCP connections", str(now.get("connections", "–"))),
        ("Stream clients", str(now.get("stream_clients", "–"))),
        ("GC runs (gen 0 / 1 / 2)", f"{gen[0]} / {gen[1]} / {gen[2]}"),
        ("Uptime", fmt_duration(uptime)),
    ]


def _verdict(monitor: SelfMonitor) -> tuple[str, str]:
    t = monitor.trend()
    window = fmt_duration(monitor.window)
    slope = f"{t.bytes_per_hour / MIB:+.1f} MiB/h over {fmt_duration(t.span_seconds)}"
    if t.rising:
        return "negative", f"Memory is rising steadily: {slope} (fit {t.fit:.2f})"
    if t.span_seconds < 0.9 * monitor.window:
        return "grey", f"Watching: a trend needs {window} of samples ({slope} so far)"
    return "positive", f"No steady rise: {slope} (fit {t.fit:.2f})"


def _charts(monitor: SelfMonitor) -> tuple[dict[str, Any], dict[str, Any]]:
    samples = list(monitor.samples)

    def points(field: str, scale: float = 1.0) -> list[list[float | None]]:
        return [[s.ts * 1000, getattr(s, field) / scale] for s in samples]

    memory = charts.time_series(
        [("Hub RSS (MiB)", MEMORY_COLOR, points("rss_bytes", MIB)),
         ("Ingest workers RSS (MiB)", CPU_COLOR, points("workers_rss_bytes", MIB))],
        unit="MiB", area=False,
    )  # fmt: skip
    counts = charts.time_series(
        [("Threads", NET_COLORS[0], points("threads")),
         ("Open files", NET_COLORS[1], points("open_files")),
         ("TCP connections", CPU_COLOR, points("connections"))],
        unit="count", area=False,
    )  # fmt: skip
    return memory, counts


def register() -> None:
    @ui.page("/hub")
    async def hub_page(request: Request) -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        await frame(who, "Hub")
        monitor = monitor_of(hub_ctx())
        every = "minute" if monitor is None or monitor.interval == 60 else f"{monitor.interval:g} s"
        page_heading("Hub", f"This hub process watching itself: a sample every {every}, 24 h kept")
        if monitor is None:
            ui.label("Self-monitoring has not started in this process.").classes("fw-muted")
            return None

        @ui.refreshable
        def body() -> None:
            color, text = _verdict(monitor)
            ui.badge(text, color=color).classes("text-sm px-3 py-1").mark("hub-trend")
            with ui.row().classes("w-full gap-3").mark("hub-tiles"):
                for label, value in _tiles(monitor):
                    with ui.card().classes("fw-card p-3 min-w-44"):
                        ui.label(label).classes("text-xs fw-muted")
                        ui.label(value).classes("text-lg font-bold fw-num")
            memory, counts = _charts(monitor)
            with ui.row().classes("w-full gap-3 flex-nowrap"):
                with ui.card().classes("fw-card p-3 flex-1 min-w-0"):
                    ui.label("Memory").classes("font-bold")
                    ui.echart(memory).classes("w-full h-64").mark("hub-memory-chart")
                with ui.card().classes("fw-card p-3 flex-1 min-w-0"):
                    ui.label("Threads, files, connections").classes("font-bold")
                    ui.echart(counts).classes("w-full h-64").mark("hub-counts-chart")

        body()
        seen = [len(monitor.samples)]

        def refresh() -> None:
            if len(monitor.samples) != seen[0] or monitor.samples.maxlen == seen[0]:
                seen[0] = len(monitor.samples)
                body.refresh()

        ui.timer(min(monitor.interval, 30.0), refresh)
        return None
