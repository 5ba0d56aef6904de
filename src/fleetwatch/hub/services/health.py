"""The explainable health score (issue 20, B3): 0-100 per server, per group and for the fleet,
with the factors that cost each point.

A server starts at 100 and loses, per resource (CPU, memory, swap, its fullest disk), up to
that resource's weight (`HealthSettings`) as usage climbs from the server's warning threshold
to 100 % (linear: half-way there costs half the weight), and points per firing alert
(critical and warning, capped together). An offline server scores 0 ("offline"). A group's
and the fleet's score is the mean of their servers', explained by the factors that cost the
mean most (each server's points divided by the number of servers; offline servers as one
factor). Bands: Healthy, Warning, Critical (`HealthSettings.healthy_min` / `warning_min`).
Everything is read from `dashboard.overview` (latest numbers, statuses, alert counts).

The fleet's score also loses points for the errors the hub itself logged lately (H14,
`logsetup.counters`): `log_error_points` each, at most `log_error_points_max`, over the last
`log_window_minutes`. Each server entry carries its `usage` (CPU, memory, fullest disk %) for
the history's trends (`health_history.py`).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable, Mapping
from typing import Any

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.settings import HealthSettings, get_settings

Factor = dict[str, Any]  # {"factor": "disk /var 93 %", "points": -16.0}
#: explanations list at most this many factors (the costliest)
TOP_FACTORS = 8


def band(score: float, weights: HealthSettings) -> str:
    if score >= weights.healthy_min:
        return "healthy"
    return "warning" if score >= weights.warning_min else "critical"


def _usage_points(value: float | None, warning: float, weight: float) -> float:
    if value is None or value <= warning or warning >= 100:
        return 0.0
    return weight * min(1.0, (value - warning) / (100.0 - warning))


def server_factors(item: Mapping[str, Any], weights: HealthSettings) -> list[Factor]:
    """What costs this overview item points, costliest first (points are negative)."""
    if item.get("status") != "online":
        return [{"factor": "offline", "points": -100.0}]
    metrics = item.get("metrics") or {}
    limits = item.get("thresholds") or {}
    out: list[Factor] = []

    def cost(label: str, value: float | None, family: str, weight: float) -> None:
        points = _usage_points(value, float(limits.get(f"{family}_warning", 100.0)), weight)
        if points > 0:
            out.append({"factor": f"{label} {value:.0f} %", "points": -round(points, 1)})

    cost("cpu", metrics.get("cpu_percent"), "cpu", weights.cpu_weight)
    cost("memory", metrics.get("memory_percent"), "memory", weights.memory_weight)
    cost("swap", metrics.get("swap_percent"), "swap", weights.swap_weight)
    disks = [d for d in item.get("disks") or [] if isinstance(d.get("percent"), int | float)]
    if disks:
        fullest = max(disks, key=lambda d: d["percent"])
        cost(f"disk {fullest.get('mountpoint') or '?'}", fullest["percent"], "disk",
             weights.disk_weight)  # fmt: skip
    # health-score alerts are left out: they must not lower the score that raised them
    critical = int(item.get("critical_alert_count") or 0) - int(
        item.get("health_critical_alert_count") or 0
    )
    all_alerts = int(item.get("alert_count") or 0) - int(item.get("health_alert_count") or 0)
    warning = max(0, all_alerts - critical)
    alert_points = min(weights.alert_points_max, critical * weights.critical_alert_points
                       + warning * weights.warning_alert_points)  # fmt: skip
    if alert_points > 0:
        parts = [f"{n} {kind}" for n, kind in ((critical, "critical"), (warning, "warning")) if n]
        noun = "alert" if critical + warning == 1 else "alerts"
        out.append({"factor": f"{' and '.join(parts)} {noun} firing",
                    "points": -round(alert_points, 1)})  # fmt: skip
    out.sort(key=lambda f: f["points"])
    return out


def usage(item: Mapping[str, Any]) -> dict[str, float | None]:
    """CPU, memory and fullest-disk percentages of an online overview item (None if unknown)."""
    if item.get("status") != "online":
        return {"cpu": None, "memory": None, "disk": None}
    metrics = item.get("metrics") or {}
    disks = [
        d["percent"] for d in item.get("disks") or [] if isinstance(d.get("percent"), int | float)
    ]
    return {"cpu": metrics.get("cpu_percent"), "memory": metrics.get("memory_percent"),
            "disk": max(disks) if disks else None}  # fmt: skip


def log_factor(errors: int, minutes: float, weights: HealthSettings) -> list[Factor]:
    """The points the hub's own logged errors cost the fleet (none when it logged none)."""
    points = min(weights.log_error_points_max, errors * weights.log_error_points)
    if points <= 0:
        return []
    noun = "error" if errors == 1 else "errors"
    return [
        {"factor": f"hub logged {errors} {noun} in {minutes:g} min", "points": -round(points, 1)}
    ]


def score_of(factors: Iterable[Factor]) -> float:
    lost: float = sum(f["points"] for f in factors)
    return round(max(0.0, 100.0 + lost), 1)


def _offline(server: Mapping[str, Any]) -> bool:
    first = server["factors"][:1]
    return bool(first) and first[0] == {"factor": "offline", "points": -100.0}


def summarize(servers: list[dict[str, Any]], weights: HealthSettings) -> dict[str, Any]:
    """The mean score of `servers` (each with `score`, `name`, `factors`) and its explanation:
    the `TOP_FACTORS` costliest (ties in the servers' order), texts built only for those."""
    if not servers:
        return {"score": 100.0, "band": "healthy", "servers": 0, "explanation": []}
    n = len(servers)
    offline = 0
    costs: list[tuple[float, int, str, str]] = []  # (points, order, server, factor)
    for s in servers:
        if _offline(s):
            offline += 1
            continue
        for f in s["factors"]:
            points = round(f["points"] / n, 1)
            if points < 0:
                costs.append((points, len(costs), s["name"], f["factor"]))
    explanation: list[Factor] = [
        {"factor": f"{name}: {factor}", "points": points}
        for points, _, name, factor in heapq.nsmallest(TOP_FACTORS, costs)
    ]
    if offline:
        lost = -round(100.0 * offline / n, 1)
        explanation.insert(0, {"factor": f"{offline} of {n} servers offline", "points": lost})
        explanation.sort(key=lambda f: f["points"])  # stable: offline first among equals
        explanation = [f for f in explanation if f["points"] < 0][:TOP_FACTORS]
    score = round(sum(s["score"] for s in servers) / n, 1)
    return {"score": score, "band": band(score, weights), "servers": n,
            "explanation": explanation}  # fmt: skip


def compute(
    overview: Mapping[str, Any], weights: HealthSettings, hub_errors: int = 0
) -> dict[str, Any]:
    """Every server's, group's and the fleet's score from `dashboard.overview`'s answer;
    `hub_errors`: what the hub logged at ERROR or above in the last `log_window_minutes`."""
    servers = []
    for item in overview["servers"]:
        factors = server_factors(item, weights)
        score = score_of(factors)
        servers.append({"id": item["id"], "name": item.get("name") or item["hostname"],
                        "hostname": item["hostname"], "group": item.get("group_name"),
                        "status": item.get("status"), "score": score,
                        "band": band(score, weights), "factors": factors,
                        "usage": usage(item)})  # fmt: skip
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in servers:
        if s["group"]:
            groups.setdefault(s["group"], []).append(s)
    servers.sort(key=lambda s: (s["score"], s["name"]))
    fleet = summarize(servers, weights)
    hub_factor = log_factor(hub_errors, weights.log_window_minutes, weights)
    if hub_factor:
        fleet["score"] = round(max(0.0, fleet["score"] + hub_factor[0]["points"]), 1)
        fleet["band"] = band(fleet["score"], weights)
        fleet["explanation"] = sorted(fleet["explanation"] + hub_factor,
                                      key=lambda f: f["points"])[:TOP_FACTORS]  # fmt: skip
    return {
        "generated_at": overview.get("generated_at", time.time()),
        "bands": {"healthy_min": weights.healthy_min, "warning_min": weights.warning_min},
        "fleet": fleet,
        "groups": [
            {"name": name, **summarize(members, weights)}
            for name, members in sorted(groups.items())
        ],
        "servers": [
            {**{k: v for k, v in s.items() if k != "factors"}, "explanation": s["factors"]}
            for s in servers
        ],
    }


async def health(ctx: HubContext, overview: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`GET /api/health`: the scores now (from `overview` when the caller has read it)."""
    from fleetwatch.hub.logsetup import counters
    from fleetwatch.hub.services import dashboard

    weights = (await get_settings(ctx)).health
    errors = counters.recent_errors(weights.log_window_minutes * 60.0)
    return compute(overview or await dashboard.overview(ctx), weights, errors)


async def server_health(ctx: HubContext, server_id: str) -> dict[str, Any] | None:
    """One server's score, band and explanation (the server page's "why" bar)."""
    from fleetwatch.hub.services import dashboard

    weights = (await get_settings(ctx)).health
    per_server = (await dashboard.alert_summary(ctx))["per_server"]
    item = (await dashboard.overview_items(ctx, [server_id], per_server)).get(server_id)
    if item is None:
        return None
    factors = server_factors(item, weights)
    score = score_of(factors)
    return {"score": score, "band": band(score, weights), "explanation": factors}
