"""Server detail: gauges, disks, history charts (6 h – 90 d), processes, services, GPUs,
containers, alerts, edit and delete; the performance monitor is a tab (`live.py`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.hub.services import dashboard
from fleetwatch.hub.ui import cards, charts, live, server_manage
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import frame
from fleetwatch.hub.ui.units import (
    CPU_COLOR,
    DISK_COLOR,
    MEMORY_COLOR,
    NET_COLORS,
    SWAP_COLOR,
    fmt_ago,
    fmt_bytes,
    fmt_duration,
    level_color,
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
    {"name": "mb", "label": "MB", "field": "memory_mb", "sortable": True},
    {"name": "status", "label": "Status", "field": "status", "sortable": True, "align": "left"},
    {"name": "user", "label": "User", "field": "username", "sortable": True, "align": "left"},
]
SERVICE_COLORS = {"running": "#22c55e", "stopped": "#64748b", "error": "#ef4444"}


def _points(history: dict[str, Any], metric: str) -> list[list[float | None]]:
    ts = history.get("ts") or []
    avg = ((history.get("series") or {}).get(metric) or {}).get("avg") or []
    return [[t * 1000, v] for t, v in zip(ts, avg, strict=False)]


def history_charts(history: dict[str, Any]) -> None:
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
                ui.echart(charts.time_series(series, unit=unit, y_max=y_max)).classes(
                    "w-full h-60"
                ).mark("history-chart")


def _disks(disks: list[dict[str, Any]]) -> None:
    with ui.card().classes("fw-card p-3 w-full"):
        ui.label("Disks").classes("font-semibold")
        for d in disks:
            pct = d.get("percent")
            with ui.column().classes("w-full gap-1 mt-2"):
                with ui.row().classes("w-full justify-between text-sm"):
                    ui.label(f"{d.get('mountpoint')}  ({d.get('fstype') or '?'})")
                    ui.label(
                        f"{fmt_bytes(d.get('used'))} / {fmt_bytes(d.get('total'))}"
                        f" · {fmt_bytes(d.get('free'))} free"
                    ).classes("fw-muted")
                ui.html(cards.bar(pct, level_color(pct, 85, 95))).classes("w-full")
        if not disks:
            ui.label("No disk data yet.").classes("fw-muted")


def _simple_table(title: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> None:
    with ui.card().classes("fw-card p-3 w-full"):
        ui.label(title).classes("font-semibold")
        if not rows:
            ui.label("None reported.").classes("fw-muted text-sm")
            return
        ui.table(
            columns=[
                {"name": k, "label": label, "field": k, "align": "left", "sortable": True}
                for k, label in columns
            ],
            rows=rows,
            row_key=columns[0][0],
        ).classes("w-full").props("dense flat")


def _services(services: list[dict[str, Any]]) -> None:
    with ui.card().classes("fw-card p-3 w-full"):
        ui.label("Services").classes("font-semibold")
        if not services:
            ui.label("None reported.").classes("fw-muted text-sm")
        with ui.grid().classes("w-full gap-2 grid-cols-1 md:grid-cols-2 xl:grid-cols-3"):
            for s in services:
                color = SERVICE_COLORS.get(str(s.get("status")), "#f59e0b")
                with ui.row().classes("items-center gap-2 no-wrap"):
                    ui.html(f'<span class="fw-dot" style="background:{color}"></span>')
                    ui.label(s.get("display_name") or s.get("service_name") or "?").classes(
                        "text-sm"
                    )
                    ui.label(str(s.get("status"))).classes("text-xs fw-muted")


def _overview_tab(detail: dict[str, Any]) -> None:
    latest = detail.get("latest") or {}
    m = detail.get("summary", {}).get("metrics") or {}
    with ui.row().classes("w-full gap-3 items-stretch"):
        with ui.card().classes("fw-card p-3"):
            ui.html(
                '<div style="display:flex;gap:8px">'
                + cards.gauge(m.get("cpu_percent"), "CPU", CPU_COLOR, size=96)
                + cards.gauge(
                    m.get("memory_percent"),
                    "Memory",
                    MEMORY_COLOR,
                    f"{fmt_bytes(m.get('memory_used'))} / {fmt_bytes(m.get('memory_total'))}",
                    size=96,
                )
                + cards.gauge(m.get("swap_percent"), "Swap", SWAP_COLOR, size=96)
                + cards.gauge(m.get("disk_percent_max"), "Fullest disk", DISK_COLOR, size=96)
                + "</div>"
            ).mark("gauges")
        with ui.card().classes("fw-card p-3 flex-1 min-w-64"):
            s = detail["server"]
            for label, value in (
                ("Host", s.get("hostname")),
                ("IP", s.get("ip_address")),
                ("OS", s.get("os_info")),
                ("Group", s.get("group_name") or "–"),
                ("Uptime", fmt_duration(m.get("uptime_seconds"))),
                (
                    "Load",
                    " / ".join(f"{m.get(k) or 0:.2f}" for k in ("load_1", "load_5", "load_15")),
                ),
                ("Last seen", fmt_ago(s.get("last_seen"))),
                ("Agent", s.get("agent_version") or "–"),
            ):
                with ui.row().classes("w-full justify-between text-sm"):
                    ui.label(label).classes("fw-muted")
                    ui.label(str(value or "–"))
    _disks(latest.get("disks") or [])
    _services(latest.get("services") or [])
    watched = latest.get("watched_processes") or {}
    rows = (
        [
            {
                "name": name,
                "instances": len(v.get("instances") or []) if isinstance(v, dict) else 0,
                "alive": "yes" if isinstance(v, dict) and v.get("alive") else "no",
            }
            for name, v in watched.items()
        ]
        if isinstance(watched, dict)
        else []
    )
    _simple_table(
        "Watched processes",
        [("name", "Name"), ("instances", "Instances"), ("alive", "Alive")],
        rows,
    )
    gpus = [
        {**g, "memory": fmt_bytes(g.get("memory_used_bytes"))} for g in latest.get("gpus") or []
    ]
    _simple_table(
        "GPUs",
        [
            ("index", "#"),
            ("name", "Name"),
            ("utilization_percent", "Util %"),
            ("memory", "Memory used"),
            ("temperature_celsius", "°C"),
        ],
        gpus,
    )
    containers = latest.get("containers") or []
    _simple_table(
        "Containers",
        [
            ("name", "Name"),
            ("image", "Image"),
            ("state", "State"),
            ("cpu_percent", "CPU %"),
            ("memory_percent", "Memory %"),
        ],
        containers,
    )
    alerts = detail.get("alerts") or []
    _simple_table(
        "Alerts", [("severity", "Severity"), ("message", "Message"), ("status", "Status")], alerts
    )


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
        detail = await dashboard.server_detail(ctx, server_id, float(hours))
        with ui.column().classes("w-full max-w-screen-2xl mx-auto p-4 gap-3"):
            if detail is None:
                ui.label(f"No server with id {server_id!r}.").classes("text-lg")
                ui.link("Back to the overview", "/")
                return None
            s = detail["server"]
            with ui.row().classes("w-full items-center gap-3"):
                ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/")).props(
                    "flat round"
                )
                ui.html(cards.status_dot(s["status"]))
                with ui.column().classes("gap-0"):
                    ui.label(s["name"]).classes("text-xl font-bold").mark("server-name")
                    ui.label(f"{s.get('ip_address') or ''} · {s['status']}").classes(
                        "text-xs fw-muted"
                    )
                ui.space()
                server_manage.buttons(ctx, who, detail)
            with ui.tabs().classes("w-full") as tabs:
                t_over = ui.tab("Overview")
                t_charts = ui.tab("Charts")
                t_procs = ui.tab("Processes")
                t_live = ui.tab("Performance monitor").mark("tab-live")
            chosen = {"Charts": t_charts, "Processes": t_procs}.get(tab, t_over)
            with ui.tab_panels(tabs, value=chosen).classes("w-full bg-transparent"):
                with ui.tab_panel(t_over).classes("gap-3"):
                    _overview_tab(detail)
                with ui.tab_panel(t_charts).classes("gap-3"):
                    ui.toggle(
                        RANGES,
                        value=hours,
                        on_change=lambda e: ui.navigate.to(
                            f"/server/{server_id}?hours={e.value}&tab=Charts"
                        ),
                    ).props("dense no-caps")
                    history_charts(detail.get("history") or {})
                with ui.tab_panel(t_procs):
                    _processes_tab(detail)
                with ui.tab_panel(t_live):
                    await live.monitor(ctx, server_id)
        return None
