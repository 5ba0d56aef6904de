"""The overview page: summary cards, search and filters, grid / list / map, comparison chart.

The view choice (grid, list, map) and the auto-refresh switch are remembered per user. Data
comes from `services.dashboard.overview` (the same as `GET /api/dashboard`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.hub.services import dashboard, users
from fleetwatch.hub.ui import cards
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import frame
from fleetwatch.hub.ui.units import CPU_COLOR, MEMORY_COLOR, fmt_ago

#: the grid shows at most this many cards (the list view pages through any number)
GRID_LIMIT = 150
SUMMARY = (
    ("total_servers", "Total servers", "dns", "#3b82f6"),
    ("online_servers", "Online", "wifi", "#22c55e"),
    ("offline_servers", "Offline", "wifi_off", "#64748b"),
    ("active_alerts", "Active alerts", "warning", "#f59e0b"),
    ("critical_alerts", "Critical", "error", "#ef4444"),
    ("unread_notifications", "Notifications", "notifications", "#a855f7"),
)
LIST_COLUMNS: list[dict[str, Any]] = [
    {"name": "status", "label": "Status", "field": "status", "sortable": True, "align": "left"},
    {"name": "name", "label": "Name", "field": "name", "sortable": True, "align": "left"},
    {"name": "group", "label": "Group", "field": "group", "sortable": True, "align": "left"},
    {"name": "ip", "label": "IP", "field": "ip", "sortable": True, "align": "left"},
    {"name": "cpu", "label": "CPU %", "field": "cpu", "sortable": True},
    {"name": "memory", "label": "Memory %", "field": "memory", "sortable": True},
    {"name": "disk", "label": "Disk %", "field": "disk", "sortable": True},
    {"name": "alerts", "label": "Alerts", "field": "alerts", "sortable": True},
    {"name": "seen", "label": "Last seen", "field": "seen", "align": "left"},
]


def matches(server: dict[str, Any], text: str, group: str, status: str) -> bool:
    """Search by hostname, display name or IP; filter by group and status."""
    if group != "all" and (server.get("group_name") or "Ungrouped") != group:
        return False
    if status != "all" and server.get("status") != status:
        return False
    if not text:
        return True
    needle = text.lower()
    hay = (server.get("hostname"), server.get("display_name"), server.get("ip_address"))
    return any(needle in (h or "").lower() for h in hay)


def _list_row(s: dict[str, Any]) -> dict[str, Any]:
    m = s.get("metrics") or {}

    def r(v: Any) -> float | None:
        return None if v is None else round(float(v), 1)

    return {
        "id": s["id"],
        "status": s["status"],
        "name": s["name"],
        "group": s.get("group_name") or "",
        "ip": s.get("ip_address") or "",
        "cpu": r(m.get("cpu_percent")),
        "memory": r(m.get("memory_percent")),
        "disk": r(m.get("disk_percent_max")),
        "alerts": s.get("alert_count") or 0,
        "seen": fmt_ago(s.get("last_seen")),
    }


def _comparison(servers: list[dict[str, Any]]) -> dict[str, Any]:
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


def register() -> None:
    @ui.page("/")
    async def overview_page(request: Request, q: str = "") -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        ctx = hub_ctx()
        await frame(who, "Overview")
        prefs = await users.get_preferences(ctx, who.name)
        state: dict[str, Any] = {
            "data": None,
            "q": q,
            "group": "all",
            "status": "all",
            "view": prefs.get("view", "grid"),
            "compare": False,
        }

        async def load() -> None:
            state["data"] = await dashboard.overview(ctx)
            group_select.options = [
                "all",
                *sorted({s.get("group_name") or "Ungrouped" for s in state["data"]["servers"]}),
            ]
            group_select.update()
            summary.refresh()
            body.refresh()

        async def set_view(e: Any) -> None:
            state["view"] = e.value
            body.refresh()
            await users.set_preference(ctx, who.name, "view", e.value)

        async def set_auto(e: Any) -> None:
            timer.active = bool(e.value)
            await users.set_preference(ctx, who.name, "auto_refresh", bool(e.value))

        def set_filter(key: str, value: Any) -> None:
            state[key] = value or ("" if key == "q" else "all")
            body.refresh()

        @ui.refreshable
        def summary() -> None:
            data = state["data"]
            with ui.grid().classes("w-full gap-3 grid-cols-2 sm:grid-cols-3 lg:grid-cols-6"):
                for key, label, icon, color in SUMMARY:
                    card = ui.card().classes("fw-card p-3").mark(f"summary-{key}")
                    with card, ui.row().classes("items-center gap-3 no-wrap"):
                        ui.icon(icon).style(f"color:{color}").classes("text-2xl")
                        with ui.column().classes("gap-0"):
                            if data is None:
                                ui.skeleton().classes("w-10 h-6")
                            else:
                                ui.label(str(data["summary"].get(key, 0))).classes(
                                    "text-2xl font-bold fw-num"
                                )
                            ui.label(label).classes("text-xs fw-muted")

        @ui.refreshable
        def body() -> None:
            data = state["data"]
            if data is None:
                with ui.row().classes("gap-3"):
                    for _ in range(4):
                        ui.skeleton().classes("w-64 h-56 rounded-xl")
                return
            shown = [
                s
                for s in data["servers"]
                if matches(s, state["q"], state["group"], state["status"])
            ]
            ui.label(f"{len(shown)} of {len(data['servers'])} servers").classes(
                "text-xs fw-muted"
            ).mark("shown-count")
            if state["compare"] and shown:
                with ui.card().classes("fw-card w-full p-3"):
                    ui.label("CPU and memory across servers").classes("font-semibold")
                    ui.echart(_comparison(shown)).classes("w-full h-72").mark("compare-chart")
            if state["view"] == "list":
                table = (
                    ui.table(
                        columns=LIST_COLUMNS,
                        rows=[_list_row(s) for s in shown],
                        row_key="id",
                        pagination={"rowsPerPage": 50, "sortBy": "name"},
                    )
                    .classes("w-full fw-card")
                    .mark("server-table")
                )
                table.on("rowClick", lambda e: ui.navigate.to(f"/server/{e.args[1]['id']}"))
                return
            by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
            colors: dict[str, str] = {}
            for s in shown:
                g = s.get("group_name") or "Ungrouped"
                by_group[g].append(s)
                colors[g] = s.get("group_color") or "#64748b"
            if state["view"] == "map":
                box = ui.card().classes("fw-card w-full p-4").mark("map-view")
                with (
                    box,
                    ui.grid().classes("w-full gap-3 grid-cols-1 md:grid-cols-2 xl:grid-cols-3"),
                ):
                    for g in sorted(by_group):
                        ui.html(cards.group_box(g, colors[g], by_group[g]))
                return
            budget, blocks = GRID_LIMIT, []
            for g in sorted(by_group):
                if budget <= 0:
                    break
                members = by_group[g][:budget]
                budget -= len(members)
                blocks.append(cards.group_grid(g, colors[g], len(by_group[g]), members))
            # small groups sit side by side; a big group takes the full width and wraps
            ui.html(
                '<div style="display:flex;flex-wrap:wrap;gap:16px 28px;align-items:flex-start">'
                + "".join(blocks)
                + "</div>"
            ).classes("w-full").mark("grid-view")
            if budget <= 0 and len(shown) > GRID_LIMIT:
                ui.label(
                    f"Showing the first {GRID_LIMIT} servers; search, filter or use the"
                    " list view for the rest."
                ).classes("fw-muted text-sm")

        with ui.column().classes("w-full max-w-screen-2xl mx-auto p-4 gap-3"):
            summary()
            with ui.row().classes("w-full items-center gap-2"):
                ui.input(placeholder="Search hostname, name or IP", value=q).props(
                    "dense outlined clearable debounce=250"
                ).classes("w-72").on_value_change(lambda e: set_filter("q", e.value)).mark("search")
                group_select = (
                    ui.select(
                        ["all"],
                        value="all",
                        label="Group",
                        on_change=lambda e: set_filter("group", e.value),
                    )
                    .props("dense outlined")
                    .classes("w-44")
                    .mark("group-filter")
                )
                ui.select(
                    ["all", "online", "offline"],
                    value="all",
                    label="Status",
                    on_change=lambda e: set_filter("status", e.value),
                ).props("dense outlined").classes("w-36").mark("status-filter")
                ui.space()
                ui.toggle(
                    {"grid": "Grid", "list": "List", "map": "Map"},
                    value=state["view"],
                    on_change=set_view,
                ).props("dense no-caps").mark("view-toggle")

                def toggle_compare() -> None:
                    state["compare"] = not state["compare"]
                    body.refresh()

                ui.button(icon="bar_chart", on_click=toggle_compare).props("flat dense").tooltip(
                    "Comparison chart"
                ).mark("compare-toggle")
                auto = ui.switch(
                    "Auto-refresh", value=bool(prefs.get("auto_refresh", True)), on_change=set_auto
                ).mark("auto-refresh")
            body()
            refresh_seconds = 30.0
            timer = ui.timer(refresh_seconds, load, active=auto.value)
            ui.label(
                f"Auto-refresh every {refresh_seconds:.0f} s while on · percent of capacity"
            ).classes("text-xs fw-muted self-center mt-4")
        ui.timer(0.05, load, once=True)
        return None
