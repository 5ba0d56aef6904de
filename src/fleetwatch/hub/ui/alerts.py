"""Alerts page: active alerts with acknowledge (operator), history, notifications."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.hub.services import alerts
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import frame, page_heading
from fleetwatch.hub.ui.units import CRITICAL, WARNING, fmt_time

LEVEL_COLORS = {"CRITICAL": CRITICAL, "WARNING": WARNING}


def register() -> None:
    @ui.page("/alerts")
    async def alerts_page(request: Request) -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        ctx = hub_ctx()
        await frame(who, "Alerts")
        with ui.column().classes("w-full max-w-screen-xl mx-auto p-4 gap-3"):
            page_heading("Alerts", "Firing alerts, notifications and history")

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
                    for n in rows[:50]:
                        with ui.row().classes("w-full items-center gap-2 text-sm"):
                            ui.label(str(n.get("title") or n.get("message") or "")).classes(
                                "flex-1"
                            )
                            ui.button("Read", on_click=lambda n=n: mark_one(n["id"])).props(
                                "flat dense"
                            )

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
