"""The health analytics summary and export (issue 20; seed 000's `get_analytics_summary` and
`export_to_json`): current values with their 24-hour trends, and everything as one JSON
document."""

from __future__ import annotations

import time
from typing import Any

from fleetwatch import __version__
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import health, health_history
from fleetwatch.hub.services.settings import get_settings


async def summary(ctx: HubContext) -> dict[str, Any]:
    """`GET /api/health/summary`: the fleet now (score, band, servers, alerts, resources,
    the hub's log counts) and the 24 h trends of score, CPU, memory and disk."""
    from fleetwatch.hub.logsetup import counters
    from fleetwatch.hub.services import dashboard

    overview = await dashboard.overview(ctx)
    scores = await health.health(ctx, overview)
    day = await health_history.history(ctx, "fleet", 24)
    fleet_now = health_history.scope_rows(scores, 0)
    current = next(r for r in fleet_now if r["scope"] == "fleet")
    counts = overview["summary"]
    window = (await get_settings(ctx)).health.log_window_minutes
    return {
        "generated_at": scores["generated_at"],
        "current": {
            "health_score": scores["fleet"]["score"],
            "band": scores["fleet"]["band"],
            "servers_total": counts.get("total_servers", 0),
            "servers_online": counts.get("online_servers", 0),
            "servers_offline": counts.get("offline_servers", 0),
            "active_alerts": counts.get("active_alerts", 0),
            "critical_alerts": counts.get("critical_alerts", 0),
            "cpu_percent": current["cpu"],
            "memory_percent": current["memory"],
            "disk_percent": current["disk"],
            "hub_log_counts": counters.totals(),
            "hub_recent_errors": counters.recent_errors(window * 60.0),
        },
        "trends_24h": {
            name: health_history.trend(day["points"], key)
            for name, key in (
                ("health_score", "score"),
                ("cpu_percent", "cpu"),
                ("memory_percent", "memory"),
                ("disk_percent", "disk"),
            )
        },
        "groups": [
            {"name": g["name"], "score": g["score"], "band": g["band"]} for g in scores["groups"]
        ],
        "worst_servers": [
            {k: s[k] for k in ("id", "name", "score", "band", "explanation")}
            for s in scores["servers"][:5]
        ],
    }


async def export(ctx: HubContext) -> dict[str, Any]:
    """`GET /api/health/export`: the scores now, the summary, and the whole stored history of
    the fleet and every group (a day of minutes, hourly points before it)."""
    now = await health.health(ctx)
    days = ctx.settings.health_history_days
    scopes = ["fleet"] + [f"group:{g['name']}" for g in now["groups"]]
    return {
        "fleetwatch_version": __version__,
        "exported_at": time.time(),
        "health": now,
        "summary": await summary(ctx),
        "history": {
            scope: (await health_history.history(ctx, scope, days * 24))["points"]
            for scope in scopes
        },
    }
