"""Alerts page: active alerts with acknowledge (operator), history, notifications."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.hub.services import alerts
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import frame, page_heading
from fleetwatch.hub.ui.units import CRITICAL, OK, WARNING, fmt_time

LEVEL_COLORS = {"CRITICAL": CRITICAL, "WARNING": WARNING, "INFO": OK}


def alert_link(alert_id: int) -> str:
    """Where a notification points: the alerts page with that alert shown on top."""
    return f"/alerts?alert={alert_id}"


def notification_row(n: dict[str, Any], on_read: Callable[[], Awaitable[None]]) -> None:
    """Level, title, the alert's message, when (with the zone) and a link to the alert."""
    color = LEVEL_COLORS.get(str(n.get("level")), WARNING)
    row = ui.row().classes("fw-notification w-full items-start gap-3 no-wrap text-sm")
    with row.mark("notification"):
        ui.badge(str(n.get("level") or "")).style(f"background:{color}")
        with ui.column().classes("flex-1 gap-0"):
            ui.label(str(n.get("title") or "")).classes("font-medium")
            if n.get("message"):
                ui.label(str(n["message"])).classes("fw-note-message fw-muted")
        ui.label(fmt_time(n.get("ts"))).classes("fw-note-time text-xs fw-muted")
        if n.get("alert_id") is not None:
            ui.link("View alert", alert_link(int(n["alert_id"])))
        ui.button("Read", on_click=on_read).props("flat dense")


def alert_detail(a: dict[str, Any] | None, asked: str) -> None:
    """The alert a notification linked to, whatever its state (firing, resolved, acked)."""
    with ui.card().classes("fw-alert-detail fw-card p-3 w-full").mark("alert-detail"):
        if a is None:
            ui.label(f"No alert {asked[:40]!r} (it may have been cleaned up).").classes("fw-muted")
            return
        color = LEVEL_COLORS.get(a["level"], WARNING)
        with ui.row().classes("items-center gap-3"):
            ui.badge(a["level"]).style(f"background:{color}")
            ui.label(f"Alert {a['id']} · {a['state']}").classes("font-semibold")
            ui.link(a["server_name"], f"/server/{a['server_id']}")
        ui.label(a["message"])
        facts = [
            ("Fired", fmt_time(a["fired_at"])),
            ("Value", a["value"]),
            ("Threshold", a["threshold"]),
            ("Acknowledged", fmt_time(a["acknowledged_at"]) + f" by {a['acknowledged_by']}"
             if a["acknowledged_at"] else "–"),
            ("Resolved", fmt_time(a["resolved_at"])),
            ("Notifications sent", a["notify_count"]),
        ]  # fmt: skip
        with ui.grid(columns=2).classes("gap-x-6 gap-y-1 text-sm"):
            for label, value in facts:
                ui.label(label).classes("fw-muted")
                ui.label("–" if value is None else str(value))


def register() -> None:
    @ui.page("/alerts")
    async def alerts_page(request: Request, alert: str = "") -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        ctx = hub_ctx()
        await frame(who, "Alerts")
        with ui.column().classes("w-full max-w-screen-xl mx-auto p-4 gap-3"):
            page_heading("Alerts", "Firing alerts, notifications and history")
            if alert:
                chosen = await alerts.get_alert(ctx, int(alert)) if alert.isdigit() else None
                alert_detail(chosen, alert)

            @ui.refreshable
            async def active() -> None:
                rows = await alerts.list_active(ctx)
                with ui.card().classes("fw-card p-3 w-full"):
                    ui.label(f"Active ({len(rows)})").classes("font-semibold")
                    if not rows:
                        ui.label("Nothing is firing.").classes("fw-muted").mark("no-alerts")
                    for a in rows:
                        color = LEVEL_COLORS.get(a["level"], WARNING)
                        with (
                            ui.row().classes("w-full items-center gap-3 no-wrap").mark("alert-row")
                        ):
                            ui.badge(a["level"]).style(f"background:{color}")
                            ui.link(a["server_name"], f"/server/{a['server_id']}")
                            ui.label(a["message"]).classes("flex-1 text-sm")
                            ui.label(fmt_time(a["fired_at"])).classes("text-xs fw-muted")
                            if who.can("operator"):
                                ui.button("Acknowledge", on_click=lambda a=a: ack(a["id"])).props(
                                    "flat dense"
                                ).mark("ack")

            async def ack(alert_id: int) -> None:
                await alerts.acknowledge(ctx, alert_id, who.name)
                ui.notify("Acknowledged", type="positive")
                active.refresh()
                history.refresh()

            @ui.refreshable
            async def notes() -> None:
                rows = await alerts.unread_notifications(ctx)
                with ui.card().classes("fw-card p-3 w-full"):
                    with ui.row().classes("items-center w-full"):
                        ui.label(f"Unread notifications ({len(rows)})").classes("font-semibold")
                        ui.space()
                        ui.button("Mark all read", on_click=mark_all).props("flat dense").mark(
                            "mark-all-read"
                        )
                    if not rows:
                        ui.label("No unread notifications.").classes("fw-muted")
                    for n in rows[:50]:
                        notification_row(n, functools.partial(mark_one, int(n["id"])))

            async def mark_all() -> None:
                await alerts.mark_read(ctx, None, True)
                notes.refresh()

            async def mark_one(nid: int) -> None:
                await alerts.mark_read(ctx, nid, False)
                notes.refresh()

            @ui.refreshable
            async def history() -> None:
                data = await alerts.history(ctx, limit=100)
                rows = [
                    {
                        "id": a["id"],
                        "time": fmt_time(a["fired_at"]),
                        "level": a["level"],
                        "server": a["server_name"],
                        "message": a["message"],
                        "state": a["state"],
                        "by": a["acknowledged_by"] or "",
                    }
                    for a in data["alerts"]
                ]
                cols = [
                    {"name": k, "label": k.title(), "field": k, "align": "left", "sortable": True}
                    for k in ("time", "level", "server", "message", "state", "by")
                ]
                with ui.card().classes("fw-card p-3 w-full"):
                    ui.label(f"History ({data['total']})").classes("font-semibold")
                    ui.table(
                        columns=cols, rows=rows, row_key="id", pagination={"rowsPerPage": 20}
                    ).classes("w-full").props("dense flat")

            await active()
            await notes()
            await history()
            ui.timer(10.0, active.refresh)
        return None
