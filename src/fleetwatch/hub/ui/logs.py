"""The Logs page (issue 22.5): the fleet-wide log viewer (`logs_view.py`) for any role, with a
link to the log alert rules (`/logs/rules`)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import forbidden, frame, page_heading
from fleetwatch.hub.ui.logs_view import log_viewer


def register() -> None:
    @ui.page("/logs")
    async def logs_page(request: Request) -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        await frame(who, "Logs")
        if not who.can("viewer"):
            forbidden("viewer")
            return None
        ctx = hub_ctx()
        with ui.column().classes("w-full max-w-screen-2xl mx-auto p-4 gap-3"):
            with ui.row().classes("w-full items-start"):
                page_heading("Logs", "What the agents ship, newest first, live")
                ui.space()
                link = ui.link(target="/logs/rules").classes(
                    "fw-log-rules-link no-underline text-inherit rounded px-3 py-1 border"
                )
                with link, ui.row().classes("items-center gap-1 no-wrap"):
                    ui.icon("rule")
                    ui.label("Log rules")
            await log_viewer(ctx, who, None)
        return None
