"""Metric history of one server, served from the right storage tier automatically.

Tier choice is by point count: a chart gets at most `MAX_POINTS` points, so the wanted step is
`range / MAX_POINTS`. Raw snapshots serve steps under a minute, 1-minute rollups steps under an
hour, 1-hour rollups the rest — each only when its retention covers the whole range, else the
next coarser tier. The step is then rounded up to a whole multiple of the tier's resolution and
rows are grouped into buckets of that step in SQL. Every point has min/avg/max per metric.
With default settings: 1-6 h raw, 7-192 h (8 days) 1-minute, beyond 1-hour.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, Select, cast, func, select

from fleetwatch.hub.services.settings import DashboardSettings
from fleetwatch.hub.store import tables

MAX_POINTS = 720
MAX_HOURS = 2160
#: resolution of each tier, seconds (raw: the agent's own interval)
TIER_SECONDS: dict[str, int] = {"raw": 1, "1m": 60, "1h": 3600}


@dataclass(frozen=True)
class TierChoice:
    tier: str  # "raw" | "1m" | "1h"
    step_seconds: int


def choose_tier(
    hours: float, settings: DashboardSettings, max_points: int = MAX_POINTS
) -> TierChoice:
    """Pick the finest tier whose step fits `max_points` and whose retention covers `hours`."""
    span = hours * 3600.0
    wanted = span / max_points
    if wanted < 60 and hours <= settings.raw_retention_hours:
        tier = "raw"
    elif wanted < 3600 and hours <= settings.rollup_1m_retention_days * 24:
        tier = "1m"
    else:
        tier = "1h"
    res = TIER_SECONDS[tier]
    step = max(res, math.ceil(wanted / res - 1e-9) * res)
    return TierChoice(tier, int(step))


def bucket_expr(column: Any, step: int, dialect: str) -> ColumnElement[Any]:
    """Start of the `step`-second bucket holding `column` (epoch seconds, positive)."""
    if dialect == "postgresql":
        return func.floor(column / step) * step
    return cast(column / step, Integer) * step


def _metric_names(metrics: tuple[str, ...] | None) -> tuple[str, ...]:
    return metrics if metrics else tables.HOT_METRICS


def _raw_query(
    server_id: str, start: float, step: int, names: tuple[str, ...], dialect: str
) -> Select[Any]:
    t = tables.snapshots
    b = bucket_expr(t.c.ts, step, dialect).label("b")
    cols: list[Any] = [func.min(t.c.ts).label("ts")]
    for name in names:
        col = t.c[name]
        cols += [func.min(col), func.avg(col), func.max(col)]
    return select(*cols).where(t.c.server_id == server_id, t.c.ts >= start).group_by(b).order_by(b)


def _rollup_query(
    tier: str, server_id: str, start: float, step: int, names: tuple[str, ...], dialect: str
) -> Select[Any]:
    t = tables.rollup_1m if tier == "1m" else tables.rollup_1h
    res = TIER_SECONDS[tier]
    where = (t.c.server_id == server_id, t.c.bucket >= start)
    if step == res:  # one row per point: no grouping
        plain: list[Any] = [t.c.bucket]
        for name in names:
            plain += [t.c[f"{name}_min"], t.c[f"{name}_sum"], t.c[f"{name}_n"], t.c[f"{name}_max"]]
        return select(*plain).where(*where).order_by(t.c.bucket)
    b = bucket_expr(t.c.bucket, step, dialect).label("b")
    cols: list[Any] = [b]
    for name in names:
        cols += [
            func.min(t.c[f"{name}_min"]),
            func.sum(t.c[f"{name}_sum"]),
            func.sum(t.c[f"{name}_n"]),
            func.max(t.c[f"{name}_max"]),
        ]
    return select(*cols).where(*where).group_by(b).order_by(b)


def _columns(rows: list[Any], names: tuple[str, ...], rolled: bool) -> dict[str, Any]:
    """Rows -> `{"ts": [...], "series": {metric: {"min": [...], "avg": [...], "max": [...]}}}`."""
    ts = [float(r[0]) for r in rows]
    series: dict[str, dict[str, list[float | None]]] = {}
    width = 4 if rolled else 3
    for i, name in enumerate(names):
        base = 1 + i * width
        mins = [r[base] for r in rows]
        if rolled:
            avgs = [
                (r[base + 1] / r[base + 2]) if r[base + 2] and r[base + 1] is not None else None
                for r in rows
            ]
            maxs = [r[base + 3] for r in rows]
        else:
            avgs = [None if r[base + 1] is None else float(r[base + 1]) for r in rows]
            maxs = [r[base + 2] for r in rows]
        series[name] = {"min": mins, "avg": avgs, "max": maxs}
    return {"ts": ts, "series": series}


def read_history(
    conn: Connection,
    server_id: str,
    hours: float,
    settings: DashboardSettings,
    metrics: tuple[str, ...] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """History of `server_id` over the last `hours` (see the module docstring for tiers)."""
    now = time.time() if now is None else now
    choice = choose_tier(hours, settings)
    names = _metric_names(metrics)
    # the first bucket starts at or after `now - hours`: at most `MAX_POINTS` whole buckets
    step = choice.step_seconds
    start = math.ceil((now - hours * 3600.0) / step) * step
    dialect = conn.dialect.name
    if choice.tier == "raw":
        stmt = _raw_query(server_id, start, choice.step_seconds, names, dialect)
    else:
        stmt = _rollup_query(choice.tier, server_id, start, choice.step_seconds, names, dialect)
    rows = list(conn.execute(stmt).all())
    out: dict[str, Any] = {
        "tier": choice.tier,
        "step_seconds": choice.step_seconds,
        "from": start,
        "to": now,
        "points": len(rows),
    }
    out.update(_columns(rows, names, rolled=choice.tier != "raw"))
    return out
