"""Server detail: a skeleton first, then the Overview tab (`server_overview.py`: gauges, disks
with forecasts, services, GPUs, containers, alerts), history charts (6 h – 90 d), processes,
edit and delete; the performance monitor is a tab (`live.py`)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import alerts, dashboard, health
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui import (
    cards,
    charts,
    live,
    logs_view,
    server_manage,
    server_ops,
    server_overview,
)
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import frame
from fleetwatch.hub.ui.units import (
    CPU_COLOR,
    DISK_COLOR,
    MEMORY_COLOR,
    NET_COLORS,
    SWAP_COLOR,
)

RANGES = {
    6: "6 h",
    12: "12 h",
    24: "24 h",
    48: "48 h",
    72: "72 h",
    168: "7 d",
    720: "30 d",
    2160: "90 d",
}
PROCESS_COLUMNS: list[dict[str, Any]] = [
    {"name": "pid", "label": "PID", "field": "pid", "sortable": True},
    {"name": "name", "label": "Name", "field": "name", "sortable": True, "align": "left"},
    {"name": "cpu", "label": "CPU %", "field": "cpu_percent", "sortable": True},
    {"name": "mem", "label": "Memory %", "field": "memory_percent", "sortable": True},
    {"name": "mb", "label": "MiB", "field": "memory_mb", "sortable": True},
    {"name": "status", "label": "Status", "field": "status", "sortable": True, "align": "left"},
    {"name": "user", "label": "User", "field": "username", "sortable": True, "align": "left"},
]


def _points(history: dict[str, Any], metric: str) -> list[list[float | None]]:
    ts = history.get("ts") or []
    avg = ((history.get("series") or {}).get(metric) or {}).get("avg") or []
    return [[t * 1000, v] for t, v in zip(ts, avg, strict=False)]


def history_charts(history: dict[str, Any], hours: float) -> None:
    """The four history charts, each drawn over the whole window (now - `hours` .. now)."""
    until_ms = time.time() * 1000
    window_ms = (until_ms - hours * 3_600_000, until_ms)
    with ui.grid().classes("w-full gap-3 grid-cols-1 lg:grid-cols-2"):
        specs = [
            (
                "CPU and memory",
                "%",
                100.0,
                [
                    ("CPU %", CPU_COLOR, "cpu_percent"),
                    ("Memory %", MEMORY_COLOR, "memory_percent"),
                    ("Swap %", SWAP_COLOR, "swap_percent"),
                ],
            ),
            (
                "Network",
                "B/s",
                None,
                [
                    ("Sent", NET_COLORS[0], "net_sent_bytes_per_sec"),
                    ("Received", NET_COLORS[1], "net_recv_bytes_per_sec"),
                ],
            ),
            (
                "Disk I/O",
                "B/s",
                None,
                [
                    ("Read", NET_COLORS[0], "disk_read_bytes_per_sec"),
                    ("Write", NET_COLORS[1], "disk_write_bytes_per_sec"),
                ],
            ),
            (
                "Processes and threads",
                "count",
                None,
                [
                    ("Processes", CPU_COLOR, "process_count"),
                    ("Threads", DISK_COLOR, "thread_count"),
                ],
            ),
        ]
        for title, unit, y_max, lines in specs:
            with ui.card().classes("fw-card p-3"):
                ui.label(f"{title} ({history.get('tier', 'raw')} data)").classes("font-semibold")
                series = [(n, c, _points(history, m)) for n, c, m in lines]
                options = charts.time_series(series, unit=unit, y_max=y_max, window_ms=window_ms)
                ui.echart(options).classes("w-full h-60").mark("history-chart")


def _processes_tab(detail: dict[str, Any]) -> None:
    procs = (detail.get("latest") or {}).get("processes") or []
    search = (
        ui.input(placeholder="Filter processes").props("dense outlined clearable").classes("w-64")
    )
    table = (
        ui.table(
            columns=PROCESS_COLUMNS,
            rows=procs,
            row_key="pid",
            pagination={"rowsPerPage": 25, "sortBy": "cpu", "descending": True},
        )
        .classes("w-full fw-card")
        .props("dense")
        .mark("process-table")
    )
    table.bind_filter_from(search, "value")


def _skeleton() -> None:
    """What the page shows while the server's data loads (the frame is already there)."""
    with ui.column().classes("w-full gap-3").mark("server-skeleton"):
        with ui.row().classes("w-full items-center gap-3"):
            ui.skeleton("QAvatar").classes("w-10 h-10")
            ui.skeleton().classes("w-48 h-8")
        ui.skeleton().classes("w-full h-10")
        with ui.row().classes("w-full gap-3 no-wrap"):
            ui.skeleton().classes("w-1/2 h-40 rounded-xl")
            ui.skeleton().classes("w-1/2 h-40 rounded-xl")
        ui.skeleton().classes("w-full h-32 rounded-xl")


async def _fill(ctx: HubContext, who: Principal, server_id: str, hours: int, tab: str) -> None:
    detail = await dashboard.server_detail(ctx, server_id, float(hours))
    if detail is None:
        ui.label(f"No server with id {server_id!r}.").classes("text-lg")
        ui.link("Back to the overview", "/")
        return
    forecasts = await alerts.disk_forecasts(ctx, server_id)
    scored = await health.server_health(ctx, server_id)
    s = detail["server"]
    with ui.row().classes("w-full items-center gap-3"):
        ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/")).props("flat round")
        ui.html(cards.status_dot(s["status"]))
        with ui.column().classes("gap-0"):
            ui.label(s["name"]).classes("text-xl font-bold").mark("server-name")
            ui.label(f"{s.get('ip_address') or ''} · {s['status']}").classes("text-xs fw-muted")
        ui.space()
        server_manage.buttons(ctx, who, detail)
    with ui.tabs().classes("w-full") as tabs:
        t_over = ui.tab("Overview")
        t_charts = ui.tab("Charts")
        t_procs = ui.tab("Processes")
        t_live = ui.tab("Performance monitor").mark("tab-live")
        t_logs = ui.tab("Logs").classes("fw-tab-logs")
        t_ops = ui.tab("Operations") if who.can("operator") else None
    named = {
        "Charts": t_charts,
        "Processes": t_procs,
        "Live": t_live,
        "Logs": t_logs,
        "Operations": t_ops,
    }
    chosen = named.get(tab) or t_over
    panels = ui.tab_panels(tabs, value=chosen).classes("w-full bg-transparent")
    with panels:
        with ui.tab_panel(t_over).classes("gap-3"):
            if scored is not None:
                server_overview.why_card(scored)
            server_overview.overview_tab(detail, forecasts)
        with ui.tab_panel(t_charts).classes("gap-3"):
            ui.toggle(
                RANGES,
                value=hours,
                on_change=lambda e: ui.navigate.to(
                    f"/server/{server_id}?hours={e.value}&tab=Charts"
                ),
            ).props("dense no-caps")
            history_charts(detail.get("history") or {}, float(hours))
        with ui.tab_panel(t_procs):
            _processes_tab(detail)
        with ui.tab_panel(t_live):
            monitor = await live.monitor(ctx, server_id, s.get("thresholds"), chosen is t_live)
        with ui.tab_panel(t_logs):
            logs_box = ui.column().classes("w-full")
        ops = None
        if t_ops is not None:
            with ui.tab_panel(t_ops).classes("gap-3"):
                ops = ui.column().classes("w-full gap-3")
    built: list[bool] = []
    viewer: list[logs_view.LogViewer] = []

    async def build_logs() -> None:  # on first view; its live tail polls only while shown
        if not viewer:
            with logs_box:
                viewer.append(await logs_view.log_viewer(ctx, who, server_id))

    async def build_ops() -> None:  # on first view: its consoles poll while the page is open
        if ops is not None and not built:
            built.append(True)
            with ops:
                await server_ops.operations_tab(ctx, who, server_id)

    if chosen is t_ops:
        await build_ops()
    if chosen is t_logs:
        await build_logs()

    async def switched(e: Any) -> None:
        # the performance monitor polls and keeps the agent streaming only while shown
        await monitor.show(e.value in (t_live, t_live._props.get("name")))
        if t_ops is not None and e.value in (t_ops, t_ops._props.get("name")):
            await build_ops()
        on_logs = e.value in (t_logs, t_logs._props.get("name"))
        if on_logs and not viewer:
            await build_logs()
        elif viewer:
            await viewer[0].show(on_logs)

    panels.on_value_change(switched)


def register() -> None:
    @ui.page("/server/{server_id}")
    async def server_page(
        request: Request, server_id: str, hours: int = 24, tab: str = "Overview"
    ) -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        ctx = hub_ctx()
        await frame(who, "Server")
        hours = hours if hours in RANGES else 24
        body = ui.column().classes("w-full max-w-screen-2xl mx-auto p-4 gap-3")
        with body:
            _skeleton()

        async def load() -> None:
            with body:
                body.clear()
                await _fill(ctx, who, server_id, hours, tab)

        ui.timer(0.01, load, once=True)
        return None
