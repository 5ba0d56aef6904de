"""Settings, Maintenance tab (H5): windows that silence alerts for every server, a group or
one server; one-off (from / until, local time in a zone) or weekly (days, HH:MM, zone)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nicegui import ui

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import alert_config, dashboard
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.ui import forms
from fleetwatch.hub.ui.units import OK, UNKNOWN

DAYS = {0: "Mon", 1: "Tue", 2: "Wed", 3: "Thu", 4: "Fri", 5: "Sat", 6: "Sun"}
STAMP = "%Y-%m-%d %H:%M"


def local_epoch(text: str, zone: str, field: str) -> float:
    """'2025-01-31 22:00' in `zone` -> epoch seconds; InvalidFieldError naming `field`."""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidFieldError("timezone", f"unknown time zone {zone!r}") from None
    try:
        return datetime.strptime(text.strip(), STAMP).replace(tzinfo=tz).timestamp()
    except ValueError:
        raise InvalidFieldError(field, "expected YYYY-MM-DD HH:MM") from None


def schedule_text(w: dict[str, Any]) -> str:
    zone = w.get("timezone") or "UTC"
    if w["kind"] == "weekly":
        days = ", ".join(DAYS[d] for d in w.get("weekdays") or [])
        return f"weekly {days} {w.get('start_time')}–{w.get('end_time')} ({zone})"
    tz = ZoneInfo(zone)
    start = datetime.fromtimestamp(w["starts_at"], tz).strftime(STAMP)
    end = datetime.fromtimestamp(w["ends_at"], tz).strftime(STAMP)
    return f"{start} → {end} ({zone})"


async def _editor(ctx: HubContext, who: Principal, done: Any) -> None:
    servers = (await dashboard.overview(ctx))["servers"]
    groups = sorted({s["group_name"] for s in servers if s.get("group_name")})
    names = {s["id"]: s["name"] for s in sorted(servers, key=lambda s: s["name"])}
    with ui.dialog() as dialog, ui.card().classes("fw-card p-4 w-[34rem] max-w-full"):
        ui.label("New maintenance window").classes("text-lg font-bold")
        name = ui.input("Name").props("dense outlined").classes("w-full").mark("mw-name")
        scope = (
            ui.select(
                {"all": "All servers", "group": "One group", "server": "One server"},
                value="all",
                label="Silences",
            )
            .props("dense outlined")
            .classes("w-full")
        )
        target = ui.select({}, label="Group / server").props("dense outlined").classes("w-full")

        def set_scope(e: Any) -> None:
            target.options = groups if e.value == "group" else names if e.value == "server" else {}
            target.value = None
            target.update()
            target.set_visibility(e.value != "all")

        scope.on_value_change(set_scope)
        target.set_visibility(False)
        kind = ui.toggle({"once": "One-off", "weekly": "Weekly"}, value="once").props("dense")
        zone = ui.input("Time zone (IANA)", value="UTC").props("dense outlined").classes("w-full")
        with ui.row().classes("w-full gap-2 no-wrap") as once_row:
            starts = ui.input("From (YYYY-MM-DD HH:MM)").props("dense outlined").mark("mw-from")
            ends = ui.input("Until (YYYY-MM-DD HH:MM)").props("dense outlined").mark("mw-until")
        with ui.column().classes("w-full gap-2") as weekly_box:
            days = (
                ui.select(DAYS, value=[5, 6], multiple=True, label="Days")
                .props("dense outlined use-chips")
                .classes("w-full")
            )
            with ui.row().classes("w-full gap-2 no-wrap"):
                start_time = ui.input("From (HH:MM)", value="22:00").props("dense outlined")
                end_time = ui.input("Until (HH:MM)", value="02:00").props("dense outlined")
        weekly_box.bind_visibility_from(kind, "value", value="weekly")
        once_row.bind_visibility_from(kind, "value", value="once")
        error = forms.error_label()

        async def store() -> None:
            data: dict[str, Any] = {
                "name": name.value or "",
                "scope": scope.value,
                "scope_value": target.value,
                "kind": kind.value,
                "timezone": zone.value or "UTC",
            }
            if kind.value == "once":
                data["starts_at"] = local_epoch(starts.value or "", zone.value, "starts_at")
                data["ends_at"] = local_epoch(ends.value or "", zone.value, "ends_at")
            else:
                data.update(
                    weekdays=sorted(days.value or []),
                    start_time=start_time.value,
                    end_time=end_time.value,
                )
            await alert_config.save_window(ctx, data, who.name)

        async def save() -> None:
            await forms.submit(dialog, error, store, done)

        forms.cancel_save_row(dialog, save, "mw-save")
    dialog.open()


async def maintenance_tab(ctx: HubContext, who: Principal) -> None:
    @ui.refreshable
    async def window_list() -> None:
        windows = await alert_config.list_windows(ctx)
        if not windows:
            ui.label("No maintenance windows.").classes("fw-muted text-sm")
        for w in windows:
            where = "all servers" if w["scope"] == "all" else f"{w['scope']} {w['scope_value']}"
            card = ui.card().classes("fw-card p-3 w-full").mark("mw-row")
            with card, ui.row().classes("w-full items-center gap-3"):
                ui.switch(
                    value=bool(w["enabled"]), on_change=lambda e, w=w: toggle(w, bool(e.value))
                )
                with ui.column().classes("gap-0 flex-1 min-w-0"):
                    with ui.row().classes("items-center gap-2"):
                        ui.label(w["name"]).classes("font-semibold")
                        active = "active now" if w["active_now"] else "inactive"
                        color = OK if w["active_now"] else UNKNOWN
                        ui.badge(active).style(f"background:{color}")
                    ui.label(f"{where} · {schedule_text(w)}").classes("text-xs fw-muted")
                ui.button(icon="delete", on_click=lambda w=w: remove(w)).props(
                    "flat dense color=red"
                ).tooltip("Delete")

    async def toggle(w: dict[str, Any], enabled: bool) -> None:
        await alert_config.save_window(ctx, {"enabled": enabled}, who.name, int(w["id"]))
        window_list.refresh()

    async def remove(w: dict[str, Any]) -> None:
        await alert_config.delete_window(ctx, int(w["id"]), who.name)
        window_list.refresh()

    with ui.row().classes("w-full items-center"):
        ui.label("While a window is active, nothing new fires or notifies for what it covers.")
        ui.space()
        ui.button(
            "Add window", icon="add", on_click=lambda: _editor(ctx, who, window_list.refresh)
        ).mark("mw-add")
    await window_list()
