"""Server detail, Overview tab: gauges, facts, disks with their forecast (B5), services,
watched processes, GPUs, containers and this server's recent alerts. Colours follow the
server's effective thresholds (its overrides over the settings' defaults)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from fleetwatch.hub.ui import cards
from fleetwatch.hub.ui.units import (
    CPU_COLOR,
    CRITICAL,
    DISK_COLOR,
    MEMORY_COLOR,
    OK,
    SWAP_COLOR,
    UNKNOWN,
    WARNING,
    family_color,
    fmt_ago,
    fmt_bytes,
    fmt_duration,
    fmt_time,
)

SERVICE_COLORS = {"running": OK, "stopped": UNKNOWN, "error": CRITICAL}


def forecast_text(forecast: dict[str, Any] | None) -> tuple[str, str]:
    """(text, colour) for a mount's B5 forecast: "full in 3.2 days", "stable", ..."""
    if not forecast:
        return "", UNKNOWN
    days = forecast.get("days_until_full")
    growth = forecast.get("growth_bytes_per_day")
    if days is not None:
        color = CRITICAL if days < 1 else WARNING if days < 7 else UNKNOWN
        when = (
            f"{days * 24:.1f} hours" if days < 1 else f"{days:.1f} days" if days < 10
            else f"{days:.0f} days"
        )  # fmt: skip
        return f"full in {when} (+{fmt_bytes(growth)}/day)", color
    reason = forecast.get("reason")
    if reason == "too_few_points" or (reason is None and (forecast.get("points") or 0) < 4):
        return "forecast: not enough history yet", UNKNOWN
    if reason == "too_short_span":
        have = (forecast.get("span_seconds") or 0) / 60
        need = (forecast.get("min_span_seconds") or 1800) / 60
        trend = f"rising +{fmt_bytes(growth)}/day; " if growth and growth > 0 else ""
        return f"{trend}forecast after {need:.0f} min of history (have {have:.0f})", UNKNOWN
    return "stable (not filling up)", OK


def agent_footprint(agent: Any) -> tuple[str, bool]:
    """B2: the agent's own CPU and memory and its budget state, e.g. "0.8% CPU · 20.0 MiB ·
    over budget: processes, sensors, GPUs every 3rd cycle"; (text, over budget)."""
    if not isinstance(agent, dict):
        return "not reported (older agent)", False
    cpu, rss = agent.get("cpu_percent"), agent.get("rss_bytes")
    parts = ["–" if cpu is None else f"{cpu:.1f}% CPU", fmt_bytes(rss)]
    over = bool(agent.get("over_budget"))
    every = agent.get("process_scan_every") or 1
    if over or every > 1:
        parts.append(f"over budget: processes, sensors, GPUs every {every} cycles")
    else:
        parts.append("within budget")
    return " · ".join(parts), over or every > 1


def _disks(
    disks: list[dict[str, Any]],
    forecasts: list[dict[str, Any]],
    thresholds: dict[str, float] | None,
) -> None:
    by_mount = {f.get("mountpoint"): f for f in forecasts}
    with ui.card().classes("fw-card p-3 w-full").mark("disks"):
        ui.label("Disks").classes("font-semibold")
        for d in disks:
            pct = d.get("percent")
            text, color = forecast_text(by_mount.get(d.get("mountpoint")))
            with ui.column().classes("w-full gap-1 mt-2"):
                with ui.row().classes("w-full justify-between text-sm gap-x-4"):
                    ui.label(f"{d.get('mountpoint')}  ({d.get('fstype') or '?'})")
                    ui.label(
                        f"{fmt_bytes(d.get('used'))} / {fmt_bytes(d.get('total'))}"
                        f" · {fmt_bytes(d.get('free'))} free"
                    ).classes("fw-muted")
                ui.html(cards.bar(pct, family_color(pct, "disk", thresholds, DISK_COLOR))).classes(
                    "w-full"
                )
                if text:
                    ui.label(text).classes("text-xs").style(f"color:{color}").mark("forecast")
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


def _gauges(m: dict[str, Any], limits: dict[str, float] | None) -> str:
    def color(key: str, family: str, base: str) -> str:
        return family_color(m.get(key), family, limits, base)

    memory = f"{fmt_bytes(m.get('memory_used'))} / {fmt_bytes(m.get('memory_total'))}"
    return (
        '<div style="display:flex;gap:8px;flex-wrap:wrap">'
        + cards.gauge(m.get("cpu_percent"), "CPU", color("cpu_percent", "cpu", CPU_COLOR), size=96)
        + cards.gauge(
            m.get("memory_percent"),
            "Memory",
            color("memory_percent", "memory", MEMORY_COLOR),
            memory,
            size=96,
        )
        + cards.gauge(
            m.get("swap_percent"), "Swap", color("swap_percent", "swap", SWAP_COLOR), size=96
        )
        + cards.gauge(
            m.get("disk_percent_max"),
            "Fullest disk",
            color("disk_percent_max", "disk", DISK_COLOR),
            size=96,
        )
        + "</div>"
    )


def _alerts_table(alerts: list[dict[str, Any]]) -> None:
    rows = [
        {
            "id": a.get("id"),
            "time": fmt_time(a.get("fired_at")),
            "level": a.get("level"),
            "message": a.get("message"),
            "state": a.get("state"),
        }
        for a in alerts
    ]
    with ui.card().classes("fw-card p-3 w-full"):
        ui.label(f"Alerts ({len(rows)} recent)").classes("font-semibold")
        if not rows:
            ui.label("None.").classes("fw-muted text-sm")
            return
        table = (
            ui.table(
                columns=[
                    {"name": k, "label": k.title(), "field": k, "align": "left", "sortable": True}
                    for k in ("time", "level", "message", "state")
                ],
                rows=rows,
                row_key="id",
                pagination={"rowsPerPage": 8},
            )
            .classes("w-full")
            .props("dense flat")
        )
        table.add_slot(
            "body-cell-level",
            '<q-td :props="props"><q-badge :style="{background: props.value == \'CRITICAL\''
            f" ? '{CRITICAL}' : '{WARNING}'}}\">{{{{ props.value }}}}</q-badge></q-td>",
        )


def why_card(scored: dict[str, Any]) -> None:
    """The server's health score and the "why" bar of what cost it points (issue 20, B3)."""
    from fleetwatch.hub.ui.health_bits import band_color, why_bar

    with ui.card().classes("fw-card p-3 w-full fw-server-health"):
        with ui.row().classes("w-full items-baseline gap-2"):
            ui.label("Health").classes("font-bold")
            ui.label(f"{scored['score']:.0f}").classes("text-2xl font-bold fw-num").style(
                f"color:{band_color(scored['band'])}"
            )
            ui.label(f"/ 100 · {scored['band'].title()}").classes("fw-muted text-sm")
        ui.html(why_bar(scored["score"], scored["band"], scored["explanation"])).classes("w-full")


def overview_tab(detail: dict[str, Any], forecasts: list[dict[str, Any]]) -> None:
    latest = detail.get("latest") or {}
    m = detail.get("summary", {}).get("metrics") or {}
    limits = detail["server"].get("thresholds")
    with ui.row().classes("w-full gap-3 items-stretch"):
        with ui.card().classes("fw-card p-3"):
            ui.html(_gauges(m, limits)).mark("gauges")
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
            footprint, over = agent_footprint(latest.get("agent"))
            with ui.row().classes("w-full justify-between text-sm").mark("agent-footprint"):
                ui.label("Agent footprint").classes("fw-muted")
                ui.label(footprint).style(f"color:{WARNING}" if over else "")
    _disks(latest.get("disks") or [], forecasts, limits)
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
    _alerts_table(detail.get("alerts") or [])
