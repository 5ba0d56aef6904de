"""The Health page (issue 20.4): the fleet's score with what cost it points, its 24-hour chart
(one point a minute, `services/health_history.py`), every group's score, and the worst servers
with their explanations. Refreshed every `REFRESH_SECONDS`; the export is a JSON download."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from fleetwatch.hub.services import health, health_history
from fleetwatch.hub.ui import charts
from fleetwatch.hub.ui.access import hub_ctx, page_principal, to_login
from fleetwatch.hub.ui.frame import frame, page_heading
from fleetwatch.hub.ui.health_bits import band_color, score_pill, why_bar
from fleetwatch.hub.ui.units import CPU_COLOR, DISK_COLOR, MEMORY_COLOR

REFRESH_SECONDS = 30.0
#: the worst servers listed with their explanations
WORST = 10


def _chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    def series(key: str) -> list[list[float | None]]:
        return [[p["ts"] * 1000, p.get(key)] for p in points]

    now = time.time() * 1000
    return charts.time_series(
        [("Health score", "#06b6d4", series("score")), ("CPU %", CPU_COLOR, series("cpu")),
         ("Memory %", MEMORY_COLOR, series("memory")), ("Disk %", DISK_COLOR, series("disk"))],
        unit="%", y_max=100, area=False, window_ms=(now - 24 * 3600 * 1000, now),
    )  # fmt: skip


def _fleet_card(fleet: dict[str, Any], bands: dict[str, float]) -> None:
    with ui.card().classes("fw-card p-4 min-w-72").mark("health-fleet"):
        ui.label("Fleet").classes("text-xs fw-muted")
        with ui.row().classes("items-baseline gap-2"):
            ui.label(f"{fleet['score']:.0f}").classes(
                "text-5xl font-bold fw-num fw-health-score"
            ).style(f"color:{band_color(fleet['band'])}").mark("health-score")
            ui.label(f"/ 100 · {fleet['band'].title()}").classes("fw-muted")
        ui.label(
            f"{fleet['servers']} servers · Healthy ≥ {bands['healthy_min']:g}, "
            f"Warning ≥ {bands['warning_min']:g}"
        ).classes("text-xs fw-muted")
        ui.html(why_bar(fleet["score"], fleet["band"], fleet["explanation"])).classes(
            "w-full"
        ).mark("health-why")


def _worst(servers: list[dict[str, Any]]) -> None:
    worst = [s for s in servers if s["explanation"]][:WORST]
    with ui.card().classes("fw-card p-3 w-full").mark("health-worst"):
        ui.label("Worst servers").classes("font-bold")
        if not worst:
            ui.label("Every server scores 100.").classes("fw-muted text-sm")
        for s in worst:
            with ui.row().classes("w-full items-start gap-3 flex-nowrap py-1"):
                ui.html(score_pill(s["score"], s["band"])).classes("pt-1")
                ui.link(s["name"], f"/server/{s['id']}").classes("font-bold min-w-40")
                ui.html(why_bar(s["score"], s["band"], s["explanation"])).classes("flex-1")


def register() -> None:
    @ui.page("/health")
    async def health_page(request: Request) -> RedirectResponse | None:
        who = await page_principal(request)
        if who is None:
            return to_login(request)
        await frame(who, "Health")
        ctx = hub_ctx()
        page_heading("Health", "0-100 per server, group and fleet, and what cost the points")

        @ui.refreshable
        async def body() -> None:
            scores = await health.health(ctx)
            day = await health_history.history(ctx, "fleet", 24)
            with ui.row().classes("w-full gap-3 flex-nowrap items-stretch"):
                _fleet_card(scores["fleet"], scores["bands"])
                with ui.card().classes("fw-card p-3 flex-1 min-w-0"):
                    with ui.row().classes("w-full items-center"):
                        ui.label("Last 24 hours").classes("font-bold")
                        ui.space()
                        ui.button("Export JSON", icon="download").props("flat dense no-caps").on(
                            "click", lambda: ui.download("/api/health/export")
                        )
                    ui.echart(_chart(day["points"])).classes("w-full h-64").mark("health-chart")
            if scores["groups"]:
                with ui.row().classes("w-full gap-3").mark("health-groups"):
                    for g in scores["groups"]:
                        with ui.card().classes("fw-card p-3 min-w-40"):
                            ui.label(g["name"]).classes("text-xs fw-muted")
                            ui.label(f"{g['score']:.0f}").classes("text-2xl font-bold").style(
                                f"color:{band_color(g['band'])}"
                            )
                            ui.label(f"{g['servers']} servers · {g['band']}").classes(
                                "text-xs fw-muted"
                            )
            _worst(scores["servers"])

        await body()
        ui.timer(REFRESH_SECONDS, body.refresh)
        return None
