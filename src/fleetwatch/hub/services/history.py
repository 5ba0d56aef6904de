"""Metric history of one server, served from the right storage tier automatically.

Tier choice is by point count: a chart gets at most `MAX_POINTS` points, so the wanted step is
`range / MAX_POINTS`. Raw snapshots serve steps under a minute, 1-minute rollups steps under an
hour, 1-hour rollups the rest — each only when its retention covers the whole range, else the
next coarser tier. The step is then rounded up to a whole multiple of the tier's resolution and
rows are grouped into buckets of that step in SQL. Every point has min/avg/max per metric.
With default settings: 1-6 h raw, 7-192 h (8 days) 1-minute, beyond 1-hour.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, bindparam, func, select

from fleetwatch.hub.services.settings import DashboardSettings

if TYPE_CHECKING:
    from fleetwatch.hub.services.history_cache import HistoryCache
from fleetwatch.hub.store import hours, tables
from fleetwatch.hub.store.rollups import high, low
from fleetwatch.hub.store.timeseries import bucket_expr

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


#: per metric: (mins, avgs, maxs), aligned with the bucket starts
Series = dict[str, tuple[list[Any], list[Any], list[Any]]]


#: no upper bound (epoch seconds far in the future)
_OPEN_END = 1e12


@functools.lru_cache(maxsize=256)
def _raw_query(step: int, names: tuple[str, ...], dialect: str) -> Select[Any]:
    """Statements are built once per shape (SQLAlchemy construction is not free) and bound."""
    t = tables.snapshots
    b = bucket_expr(t.c.ts, step, dialect).label("b")
    cols: list[Any] = [b]
    for name in names:
        col = t.c[name]
        cols += [func.min(col), func.avg(col), func.max(col)]
    where = (
        t.c.server_id == bindparam("server_id"),
        t.c.ts >= bindparam("start"),
        t.c.ts < bindparam("until"),
    )
    return select(*cols).where(*where).group_by(b).order_by(b)


@functools.lru_cache(maxsize=256)
def _rollup_query(tier: str, step: int, names: tuple[str, ...], dialect: str) -> Select[Any]:
    # the 1-hour tier with each server's open hour folded from its minutes (store/hours.py)
    t: Any = tables.rollup_1m if tier == "1m" else hours.hour_tier(dialect)
    where = (
        t.c.server_id == bindparam("server_id"),
        t.c.bucket >= bindparam("start"),
        t.c.bucket < bindparam("until"),
    )
    if step == TIER_SECONDS[tier]:  # one row per point: no grouping
        plain: list[Any] = [t.c.bucket]
        for name in names:
            plain += [low(t, name), t.c[f"{name}_sum"], t.c[f"{name}_n"], high(t, name)]
        return select(*plain).where(*where).order_by(t.c.bucket)
    b = bucket_expr(t.c.bucket, step, dialect).label("b")
    cols: list[Any] = [b]
    for name in names:
        cols += [
            func.min(low(t, name)),
            func.sum(t.c[f"{name}_sum"]),
            func.sum(t.c[f"{name}_n"]),
            func.max(high(t, name)),
        ]
    return select(*cols).where(*where).group_by(b).order_by(b)


def _columns(rows: list[Any], names: tuple[str, ...], rolled: bool) -> tuple[list[float], Series]:
    ts = [float(r[0]) for r in rows]
    series: Series = {}
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
        series[name] = (mins, avgs, maxs)
    return ts, series


def query_buckets(
    conn: Connection,
    server_id: str,
    choice: TierChoice,
    names: tuple[str, ...],
    start: float,
    until: float | None = None,
) -> tuple[list[float], Series]:
    """Bucket starts and min/avg/max per metric of buckets starting in [start, until)."""
    dialect = conn.dialect.name
    step = choice.step_seconds
    if choice.tier == "raw":
        stmt = _raw_query(step, names, dialect)
    else:
        stmt = _rollup_query(choice.tier, step, names, dialect)
    params = {
        "server_id": server_id,
        "start": start,
        "until": _OPEN_END if until is None else until,
    }
    rows = conn.execute(stmt, params).all()
    return _columns(list(rows), names, rolled=choice.tier != "raw")


def read_history(
    conn: Connection,
    server_id: str,
    hours: float,
    settings: DashboardSettings,
    metrics: tuple[str, ...] | None = None,
    now: float | None = None,
    cache: HistoryCache | None = None,
) -> dict[str, Any]:
    """History of `server_id` over the last `hours` (see the module docstring for tiers).

    `ts` are bucket starts; the first bucket starts at or after `now - hours`, so there are at
    most `MAX_POINTS` points. With a `cache`, only buckets not seen complete before are read.
    """
    now = time.time() if now is None else now
    choice = choose_tier(hours, settings)
    names = metrics if metrics else tables.HOT_METRICS
    step = choice.step_seconds
    start = math.ceil((now - hours * 3600.0) / step) * step
    if cache is not None:
        ts, series = cache.read(conn, server_id, choice, names, start, now)
    else:
        ts, series = query_buckets(conn, server_id, choice, names, start)
    return {
        "tier": choice.tier,
        "step_seconds": step,
        "from": start,
        "to": now,
        "points": len(ts),
        "ts": ts,
        "series": {
            name: {"min": mins, "avg": avgs, "max": maxs}
            for name, (mins, avgs, maxs) in series.items()
        },
    }
