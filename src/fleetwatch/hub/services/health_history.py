"""Health-score history (issue 20): the elected leader records every scope's score once a
minute (`run_periodic`); a day is kept at 1-minute resolution, then hourly rows (mean, minimum,
maximum) for `health_history_days`.

`record` writes a minute's rows, folds every closed hour that has no hourly row yet, and
deletes what is past its keep. Writing a minute twice (a restart, or two leaders for a moment)
replaces it. `history` answers `GET /api/health/history`: the minutes of the last `hours` when
they are all within the day, else hourly points before the day and minutes within it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.servers import load_thresholds, server_status
from fleetwatch.hub.services.settings import get_settings
from fleetwatch.hub.store.tables import servers, snapshots
from fleetwatch.hub.store.tables_health import health_hours, health_minutes

log = logging.getLogger("fleetwatch.hub.health")

MINUTE = 60
HOUR = 3600
#: 1-minute rows are kept this long
MINUTES_KEEP_SECONDS = 24 * HOUR
_RESOURCES = ("cpu", "memory", "disk")


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def scope_rows(scores: dict[str, Any], minute: int) -> list[dict[str, Any]]:
    """The rows of one minute from `health.compute`'s answer: every server, group and the
    fleet, with the mean resource use of their online servers."""
    rows: list[dict[str, Any]] = []
    members: dict[str, list[dict[str, Any]]] = {"fleet": []}
    for server in scores["servers"]:
        used = server.get("usage") or {}
        rows.append({"scope": f"server:{server['id']}", "ts": minute, "score": server["score"],
                     **{r: used.get(r) for r in _RESOURCES}})  # fmt: skip
        if server.get("status") == "online":
            members["fleet"].append(used)
            if server.get("group"):
                members.setdefault(f"group:{server['group']}", []).append(used)
    for scope, summary in [("fleet", scores["fleet"])] + [
        (f"group:{g['name']}", g) for g in scores["groups"]
    ]:
        used_list = members.get(scope, [])
        means = {r: _mean([u[r] for u in used_list if u.get(r) is not None]) for r in _RESOURCES}
        rows.append({"scope": scope, "ts": minute, "score": summary["score"], **means})
    return rows


#: closed hours looked at for folding on each write (more were missed only if the hub was
#: down: their minutes are gone after a day anyway)
FOLD_BACK_HOURS = 3


def _fold_hours(conn: Connection, before: int) -> int:
    """Hourly rows for the last closed hours before `before` that have none yet (one index
    lookup each when they are done: every minute but the first of an hour)."""
    m, h = health_minutes.c, health_hours.c
    folded = 0
    for back in range(FOLD_BACK_HOURS, 0, -1):
        start = before - back * HOUR
        if conn.execute(select(h.ts).where(h.scope == "fleet", h.ts == start)).first():
            continue
        query = (
            select(
                m.scope,
                func.avg(m.score),
                func.min(m.score),
                func.max(m.score),
                func.avg(m.cpu),
                func.avg(m.memory),
                func.avg(m.disk),
            )
            .where(m.ts >= start, m.ts < start + HOUR)
            .group_by(m.scope)
        )
        rows = [
            {
                "scope": scope,
                "ts": start,
                "score": round(avg, 1),
                "score_min": low,
                "score_max": high,
                "cpu": _round(cpu),
                "memory": _round(mem),
                "disk": _round(disk),
            }
            for scope, avg, low, high, cpu, mem, disk in conn.execute(query)
        ]
        if rows:
            conn.execute(delete(health_hours).where(h.ts == start))
            conn.execute(insert(health_hours), rows)
            folded += 1
    return folded


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def write_minute(conn: Connection, rows: list[dict[str, Any]], now: float, keep_days: int) -> None:
    """Store one minute's rows (replacing that minute), fold closed hours, drop old rows."""
    minute = int(now // MINUTE * MINUTE)
    conn.execute(delete(health_minutes).where(health_minutes.c.ts == minute))
    if rows:  # the driver's executemany with plain tuples: a third of Core's cost per row
        marks = "?, ?, ?, ?, ?, ?" if conn.dialect.name == "sqlite" else "%s, %s, %s, %s, %s, %s"
        conn.exec_driver_sql(
            f"INSERT INTO health_minutes (scope, ts, score, cpu, memory, disk) VALUES ({marks})",
            [(r["scope"], r["ts"], r["score"], r["cpu"], r["memory"], r["disk"]) for r in rows],
        )
    current_hour = minute // HOUR * HOUR
    _fold_hours(conn, current_hour)
    conn.execute(delete(health_minutes).where(health_minutes.c.ts < now - MINUTES_KEEP_SECONDS))
    conn.execute(delete(health_hours).where(health_hours.c.ts < now - keep_days * 86400))


def _latest_hot(conn: Connection) -> dict[str, tuple[float | None, ...]]:
    """(Reader) every server's latest stored numbers from the snapshot rows' hot columns
    (an index lookup per server; no snapshot is decoded). An outer join from `servers`, so
    SQLite cannot turn it round into a scan of every stored snapshot (measured: 108 ms with
    300 snapshots per server, against 3.5 ms)."""
    s, v = snapshots.c, servers.c
    query = select(
        s.server_id, s.cpu_percent, s.memory_percent, s.swap_percent, s.disk_percent_max
    ).select_from(
        servers.outerjoin(snapshots, (s.server_id == v.id) & (s.ts == v.last_snapshot_at))
    )
    return {r[0]: tuple(r[1:]) for r in conn.execute(query) if r[0] is not None}


async def scored_items(ctx: HubContext) -> dict[str, Any]:
    """What `health.compute` reads of the overview, built straight from the server rows, the
    alert counts and the latest snapshot rows' hot columns (no snapshot decoded; the cached
    summaries give the fullest disk's mountpoint, and the numbers of a server whose latest
    row has no hot columns)."""
    from fleetwatch.hub.services import dashboard

    settings = await get_settings(ctx)
    rows, _colors, cache = await dashboard.read_rows(ctx, metrics_of=frozenset())
    per_server = (await dashboard.alert_summary(ctx))["per_server"]
    hot = await ctx.db.read(_latest_hot)
    defaults = settings.default_thresholds.model_dump()
    stale, now = settings.stale_threshold_minutes, time.time()
    merged: dict[str | None, dict[str, Any]] = {}  # a server's thresholds text -> in force
    items = []
    for row in rows:
        counts = per_server.get(row.id) or {}
        summary = cache[row.id][1] if row.id in cache else {}
        disks = summary.get("disks") or []
        item = {
            "id": row.id,
            "name": row.display_name or row.hostname,
            "hostname": row.hostname,
            "group_name": row.group_name,
            "status": server_status(row.last_seen, row.interval_seconds, stale, now),
            "thresholds": merged.get(row.thresholds)
            or merged.setdefault(row.thresholds, {**defaults, **load_thresholds(row.thresholds)}),
            "alert_count": counts.get("active", 0),
            "critical_alert_count": counts.get("critical", 0),
            "health_alert_count": counts.get("health", 0),
            "health_critical_alert_count": counts.get("health_critical", 0),
            "metrics": summary.get("metrics"),
            "disks": disks,
        }
        numbers = hot.get(row.id)
        if numbers is not None:
            cpu, memory, swap, disk = numbers
            item["metrics"] = {"cpu_percent": cpu, "memory_percent": memory,
                               "swap_percent": swap}  # fmt: skip
            fullest = max(disks, key=lambda d: d.get("percent") or 0) if disks else {}
            item["disks"] = [] if disk is None else [
                {"mountpoint": fullest.get("mountpoint"), "percent": disk}]  # fmt: skip
        items.append(item)
    return {"generated_at": now, "servers": items}


async def record(ctx: HubContext, now: float | None = None) -> int:
    """Compute every score now and store the minute; the number of rows written.

    The scores come from the overview's server rows, statuses and alert counts without
    decoding any snapshot (`metrics_of=frozenset()`), and from the latest snapshot rows' hot
    columns: with every server reporting each minute, decoding each latest snapshot would be
    most of the cost (measured: 65 of 88 ms for 1,000 servers)."""
    from fleetwatch.hub.services import health

    now = time.time() if now is None else now
    scores = await health.health(ctx, await scored_items(ctx))
    rows = scope_rows(scores, int(now // MINUTE * MINUTE))
    keep_days = ctx.settings.health_history_days
    await ctx.db.write(lambda conn: write_minute(conn, rows, now, keep_days))
    return len(rows)


async def run_periodic(ctx: HubContext) -> None:
    """Record every `health_interval_seconds` (the leader's job). Cancel the task to stop."""
    interval = ctx.settings.health_interval_seconds
    while True:
        try:
            await record(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad minute (a locked database, say) must not end the history
            log.exception("health: recording the scores failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


def _points(conn: Connection, scope: str, since: float, now: float) -> list[dict[str, Any]]:
    m, h = health_minutes.c, health_hours.c
    day_start = now - MINUTES_KEEP_SECONDS
    points: list[dict[str, Any]] = []
    if since < day_start:
        query = (
            select(h.ts, h.score, h.score_min, h.score_max, h.cpu, h.memory, h.disk)
            .where(h.scope == scope, h.ts >= since // HOUR * HOUR, h.ts < day_start)
            .order_by(h.ts)
        )
        points += [{**row._asdict(), "resolution": "1h"} for row in conn.execute(query)]
    first_minute = max(since, day_start)
    query = (
        select(m.ts, m.score, m.cpu, m.memory, m.disk)
        .where(m.scope == scope, m.ts >= first_minute)
        .order_by(m.ts)
    )
    points += [{**row._asdict(), "resolution": "1m"} for row in conn.execute(query)]
    return points


async def history(ctx: HubContext, scope: str, hours: float) -> dict[str, Any]:
    now = time.time()
    since = now - hours * HOUR
    points = await ctx.db.read(lambda conn: _points(conn, scope, since, now))
    return {"scope": scope, "hours": hours, "points": points}


def trend(points: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Now, 24 h ago, change, minimum, mean and maximum of `key` over `points` (oldest first)."""
    values = [(p["ts"], p[key]) for p in points if p.get(key) is not None]
    if not values:
        return {"now": None, "first": None, "change": None, "min": None, "mean": None,
                "max": None, "points": 0}  # fmt: skip
    series = [v for _, v in values]
    return {
        "now": series[-1],
        "first": series[0],
        "first_at": values[0][0],
        "change": round(series[-1] - series[0], 1),
        "min": min(series),
        "mean": round(sum(series) / len(series), 1),
        "max": max(series),
        "points": len(series),
    }
