"""The overview page: summary cards, search and filters, grid / list / map, comparison chart.

Live: the page draws the shared fleet view of `ui.feed` and the feed pushes changes as servers
report (at most one update per page every `feed.PUSH_SECONDS`): changed cards or map rows are
replaced in the browser, summary numbers set, and the page is re-drawn only when a change moves
servers (status, group, name, servers added or deleted). Only what is on screen is kept live:
the browser reports the cards / map rows in view (none while its tab is hidden); one that
scrolls into view gets its current data at once. The whole fleet is re-read at the
settings' refresh interval (seed 001's 30 s auto-refresh). The view choice (grid, list, map)
and the live switch are remembered per user.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from nicegui.events import GenericEventArguments

from fleetwatch.hub.services import users
from fleetwatch.hub.ui import charts
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.feed import Change, Item, fleet_feed
from fleetwatch.hub.ui.frame import frame
from fleetwatch.hub.ui.overview_render import (
    GRID_LIMIT,
    PATCH_JS,
    Filters,
    Rendered,
    patch_call,
    render,
)
from fleetwatch.hub.ui.overview_render import patch as patch_code

#: the list view re-sends its rows at most this often (all rows go at once)
LIST_PUSH_SECONDS = 5.0
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


def register() -> None:
    @ui.page("/")
    async def overview_page(request: Request, q: str = "") -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        ctx = hub_ctx()
        feed = fleet_feed(ctx)
        await frame(who, "Overview")
        ui.add_head_html(PATCH_JS)
        prefs = await users.get_preferences(ctx, who.name)
        client = ui.context.client
        state: dict[str, Any] = {
            "view": await feed.current(),
            "filters": Filters(q, "all", "all"),
            "mode": prefs.get("view", "grid"),
            "compare": False,
            "live": bool(prefs.get("auto_refresh", True)),
            "drawn": None,
            "drawn_view": None,
            "on_screen": None,
            "list_sent": 0.0,
        }
        numbers: dict[str, ui.label] = {}
        #: items this page has patched in since it was drawn (the rest: from `drawn_view`)
        sent: dict[str, Item] = {}

        def drawn() -> Rendered:
            return render(feed, state["view"], state["mode"], state["filters"])

        def wants() -> frozenset[str] | None:
            """What to keep live: the cards / map rows on screen (all drawn until the browser
            reports them); the list: everything."""
            done: Rendered | None = state["drawn"]
            if state["mode"] == "list" or done is None:
                return None
            on_screen: frozenset[str] | None = state["on_screen"]
            return done.ids if on_screen is None else on_screen

        def shown_item(server_id: str) -> Item | None:
            return sent.get(server_id) or state["drawn_view"].by_id.get(server_id)

        def send(code: str, ids: Iterable[str]) -> None:
            client.run_javascript(code)
            for i in ids:
                sent[i] = state["view"].by_id[i]

        def on_visible(e: GenericEventArguments) -> None:
            done: Rendered | None = state["drawn"]
            if done is None or state["mode"] == "list":
                return
            args = e.args if isinstance(e.args, list) else []
            ids = frozenset(str(i) for i in args) & done.ids
            before: frozenset[str] = state["on_screen"] or frozenset()
            state["on_screen"] = ids
            if not state["live"]:
                return
            # cards that changed while off screen: the shared view's now, fresher next push
            stale = frozenset(i for i in ids if state["view"].by_id.get(i) is not shown_item(i))
            if stale:
                send(patch_call(feed, state["view"], state["mode"], stale), stale)
            feed.touch(set(ids - before))

        def on_change(change: Change) -> None:
            if not state["live"] or client.is_deleted:
                return
            state["view"] = change.view
            set_summary()
            if change.relayout:
                redraw()
                return
            done: Rendered | None = state["drawn"]
            if done is None:
                return
            if state["mode"] == "list":
                if change.changed & done.ids and time.monotonic() - state["list_sent"] > (
                    LIST_PUSH_SECONDS
                ):
                    redraw()
                return
            live_ids = wants() or done.ids
            code = patch_code(feed, change, state["mode"], live_ids)
            if code is not None:
                send(code, change.changed & live_ids)

        def set_summary() -> None:
            values = state["view"].data["summary"]
            for key, label in numbers.items():
                text = str(values.get(key, 0))
                if label.text != text:
                    label.text = text

        def set_groups() -> None:
            groups = {s.get("group_name") or "Ungrouped" for s in state["view"].data["servers"]}
            options = ["all", *sorted(groups)]
            if group_select.options != options:
                group_select.options = options
                group_select.update()

        def redraw() -> None:
            set_groups()
            body.refresh()

        async def set_view(e: Any) -> None:
            state["mode"] = e.value
            body.refresh()
            await users.set_preference(ctx, who.name, "view", e.value)

        async def set_live(e: Any) -> None:
            state["live"] = bool(e.value)
            if state["live"]:
                state["view"] = await feed.current()
                set_summary()
                redraw()
            await users.set_preference(ctx, who.name, "auto_refresh", bool(e.value))

        def set_filter(key: str, value: Any) -> None:
            f: Filters = state["filters"]
            value = value or ("" if key == "q" else "all")
            state["filters"] = Filters(**{**f.__dict__, key: value})
            body.refresh()

        def summary() -> None:
            data = state["view"].data
            with ui.grid().classes("w-full gap-3 grid-cols-2 sm:grid-cols-3 lg:grid-cols-6"):
                for key, label, icon, color in SUMMARY:
                    card = ui.card().classes("fw-card p-3").mark(f"summary-{key}")
                    with card, ui.row().classes("items-center gap-3 no-wrap"):
                        ui.icon(icon).style(f"color:{color}").classes("text-2xl")
                        with ui.column().classes("gap-0"):
                            numbers[key] = ui.label(str(data["summary"].get(key, 0))).classes(
                                "text-2xl font-bold fw-num"
                            )
                            ui.label(label).classes("text-xs fw-muted")

        @ui.refreshable
        def body() -> None:
            done = state["drawn"] = drawn()
            state["drawn_view"], state["on_screen"] = state["view"], None
            sent.clear()
            # numbers of servers no page showed may be older: re-read them at the next push
            feed.touch(set(done.ids))
            if state["mode"] == "list":
                state["list_sent"] = time.monotonic()
            ui.label(f"{done.shown} of {done.total} servers").classes("text-xs fw-muted").mark(
                "shown-count"
            )
            if state["compare"] and done.shown:
                shown = [s for s in state["view"].data["servers"] if s["id"] in done.ids]
                with ui.card().classes("fw-card w-full p-3"):
                    ui.label("CPU and memory across servers").classes("font-semibold")
                    ui.echart(charts.comparison(shown)).classes("w-full h-72").mark("compare-chart")
            if state["mode"] == "list":
                table = (
                    ui.table(
                        columns=LIST_COLUMNS,
                        rows=done.rows,
                        row_key="id",
                        pagination={"rowsPerPage": 50, "sortBy": "name"},
                    )
                    .classes("w-full fw-card")
                    .mark("server-table")
                )
                table.on("rowClick", lambda e: ui.navigate.to(f"/server/{e.args[1]['id']}"))
                return
            if state["mode"] == "map":
                with ui.card().classes("fw-card w-full p-4").mark("map-view"):
                    columns = "w-full gap-3 grid-cols-1 md:grid-cols-2 xl:grid-cols-3"
                    with ui.grid().classes(columns):
                        for part in done.parts:
                            ui.html(part, sanitize=False)
                return
            ui.html(done.parts[0], sanitize=False).classes("w-full").mark("grid-view")
            if done.shown > GRID_LIMIT:
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
                    value=state["mode"],
                    on_change=set_view,
                ).props("dense no-caps").mark("view-toggle")

                def toggle_compare() -> None:
                    state["compare"] = not state["compare"]
                    body.refresh()

                ui.button(icon="bar_chart", on_click=toggle_compare).props("flat dense").tooltip(
                    "Comparison chart"
                ).mark("compare-toggle")
                ui.switch("Live", value=state["live"], on_change=set_live).tooltip(
                    "Cards update as servers report; off: the page stays as it is"
                ).mark("auto-refresh")
            set_groups()
            body()
            refresh = state["view"].data["settings"]["refresh_interval_seconds"]
            ui.label(
                "Live: updates pushed as servers report, the whole fleet re-read every"
                f" {refresh:.0f} s · percent of capacity"
            ).classes("text-xs fw-muted self-center mt-4")
        ui.on("fw_visible", on_visible)
        feed.add(client.id, on_change, wants)
        client.on_delete(lambda: feed.remove(client.id))
        return None
