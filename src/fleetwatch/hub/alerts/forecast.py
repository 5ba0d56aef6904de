"""B5: per mount, days until the disk is full, from the trend of its used bytes.

Source: the hot columns carry only `disk_percent_max` (one number per host), so per-mount used
bytes come from `snapshots.detail`. To keep the cost bounded whatever the history length, we
read the (id, ts) index of the lookback window (cheap), pick at most `MAX_POINTS` snapshots
spread evenly over it, and decode only those. A least-squares line through (time, used bytes)
gives the growth rate; `days_until_full = (total - used_now) / rate`, or `None` when usage is
flat or shrinking, or when there are fewer than `MIN_POINTS` points spanning `MIN_SPAN_SECONDS`;
`reason` then says which (a rising trend over too short a span is not "stable").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from fleetwatch.hub.store.codec import unpack
from fleetwatch.hub.store.tables import snapshots

LOOKBACK_SECONDS = 7 * 86400.0
MAX_POINTS = 240
MIN_POINTS = 4
MIN_SPAN_SECONDS = 1800.0
DAY = 86400.0

Point = tuple[float, float, float]  # (ts, used_bytes, total_bytes)


def disks_of(doc: Any) -> list[Mapping[str, Any]]:
    """The disk list of a stored snapshot document (full snapshot or its `metrics`)."""
    if not isinstance(doc, Mapping):
        return []
    metrics = doc.get("metrics")
    disks = metrics.get("disks") if isinstance(metrics, Mapping) else doc.get("disks")
    return [d for d in disks or [] if isinstance(d, Mapping) and d.get("mountpoint")]


def evenly(items: list[Any], limit: int) -> list[Any]:
    """At most `limit` items spread evenly, always keeping the first and the last."""
    if len(items) <= limit:
        return items
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def usage_points(
    conn: Connection, server_id: str, now: float, lookback_seconds: float = LOOKBACK_SECONDS
) -> dict[str, list[Point]]:
    index = conn.execute(
        select(snapshots.c.id)
        .where(snapshots.c.server_id == server_id, snapshots.c.ts >= now - lookback_seconds)
        .order_by(snapshots.c.ts)
    ).all()
    ids = [row[0] for row in evenly(list(index), MAX_POINTS)]
    out: dict[str, list[Point]] = {}
    for chunk_start in range(0, len(ids), 500):
        rows = conn.execute(
            select(snapshots.c.ts, snapshots.c.detail).where(
                snapshots.c.id.in_(ids[chunk_start : chunk_start + 500])
            )
        )
        for ts, detail in rows:
            for disk in disks_of(unpack(detail)):
                used, total = disk.get("used"), disk.get("total")
                if isinstance(used, int | float) and isinstance(total, int | float) and total > 0:
                    out.setdefault(str(disk["mountpoint"]), []).append(
                        (float(ts), float(used), float(total))
                    )
    for points in out.values():
        points.sort()
    return out


def slope_per_second(points: Iterable[Point]) -> float | None:
    pts = list(points)
    n = len(pts)
    if n < 2:
        return None
    t0 = pts[0][0]
    xs = [p[0] - t0 for p in pts]
    ys = [p[1] for p in pts]
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


def no_forecast_reason(points: int, span_seconds: float, slope: float | None) -> str | None:
    """Why `days_until_full` is None: `too_few_points`, `too_short_span`, `not_growing`."""
    if points < MIN_POINTS:
        return "too_few_points"
    if span_seconds < MIN_SPAN_SECONDS:
        return "too_short_span"
    if slope is None or slope <= 0:
        return "not_growing"
    return None


def forecast_mount(mount: str, points: list[Point]) -> dict[str, Any]:
    last_ts, used, total = points[-1]
    slope = slope_per_second(points)
    span = last_ts - points[0][0]
    reason = no_forecast_reason(len(points), span, slope)
    days: float | None = None
    if reason is None and slope is not None:
        days = max(0.0, (total - used) / slope / DAY)
    return {
        "mountpoint": mount,
        "total_bytes": int(total),
        "used_bytes": int(used),
        "growth_bytes_per_day": None if slope is None else slope * DAY,
        "days_until_full": days,
        "points": len(points),
        "span_seconds": span,
        #: why there is no `days_until_full` (None when there is one)
        "reason": reason,
        "min_span_seconds": MIN_SPAN_SECONDS,
    }


def disk_forecasts_sync(conn: Connection, server_id: str, now: float) -> list[dict[str, Any]]:
    points = usage_points(conn, server_id, now)
    return [forecast_mount(mount, pts) for mount, pts in sorted(points.items())]
