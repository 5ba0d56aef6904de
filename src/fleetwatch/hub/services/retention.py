"""Retention: delete data older than each tier's retention setting.

Runs every `PERIOD_SECONDS` inside the hub (`run_periodic`, started from the app lifespan) and
on demand (`DELETE /api/dashboard/settings`). Deletes go per server so that each statement uses
the (server_id, time) index, in several small write jobs so that ingest never waits long. A
server's 1-minute rows of its open hour stay, whatever their age: that hour's 1-hour row is
folded from them when it closes (`store/hours.py`).
Safe to run from several hub replicas at once (deletes are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import Connection, delete, select

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import logs
from fleetwatch.hub.services.audit import record_audit
from fleetwatch.hub.services.settings import DashboardSettings, get_settings
from fleetwatch.hub.store import hours, tables

log = logging.getLogger("fleetwatch.hub.retention")

PERIOD_SECONDS = 600.0
FIRST_RUN_DELAY_SECONDS = 60.0
#: servers handled per write job
SERVERS_PER_JOB = 50

#: per-server tables: (table, time column)
_SERVER_TABLES = (
    (tables.snapshots, "ts"),
    (tables.rollup_1m, "bucket"),
    (tables.rollup_1h, "bucket"),
    (tables.live_samples, "ts"),
)


def cutoffs(settings: DashboardSettings, now: float) -> dict[str, float]:
    """Oldest time kept, per table (epoch seconds)."""
    return {
        "snapshots": now - settings.raw_retention_hours * 3600.0,
        "rollup_1m": now - settings.rollup_1m_retention_days * 86400.0,
        "rollup_1h": now - settings.rollup_1h_retention_days * 86400.0,
        "live_samples": now - settings.live_retention_minutes * 60.0,
        "audit_log": now - settings.audit_retention_days * 86400.0,
    }


def _delete_for_servers(
    conn: Connection, server_ids: list[str], limits: dict[str, float]
) -> dict[str, int]:
    counts = {table.name: 0 for table, _ in _SERVER_TABLES}
    s = tables.servers.c
    query = select(s.id, s.last_snapshot_at).where(s.id.in_(server_ids))
    newest: dict[str, float | None] = {sid: last for sid, last in conn.execute(query)}
    for server_id in server_ids:
        for table, time_col in _SERVER_TABLES:
            limit = limits[table.name]
            last = newest.get(server_id)
            if table is tables.rollup_1m and last is not None:
                # the open hour is folded from its minutes until it closes (store/hours.py)
                limit = min(limit, hours.hour_start(last))
            result = conn.execute(
                delete(table).where(table.c.server_id == server_id, table.c[time_col] < limit)
            )
            counts[table.name] += result.rowcount
    return counts


def _delete_orphans(conn: Connection) -> dict[str, int]:
    """Rows of servers that no longer exist (a delete raced with ingest); scans whole tables."""
    known = select(tables.servers.c.id)
    counts: dict[str, int] = {}
    for table, _ in _SERVER_TABLES:
        result = conn.execute(delete(table).where(table.c.server_id.not_in(known)))
        counts[table.name] = result.rowcount
    return counts


def _delete_old_audit(conn: Connection, limits: dict[str, float]) -> dict[str, int]:
    a = tables.audit_log
    return {"audit_log": conn.execute(delete(a).where(a.c.ts < limits["audit_log"])).rowcount}


async def cleanup(
    ctx: HubContext, *, actor: str = "retention", orphans: bool = True
) -> dict[str, Any]:
    """Delete everything past retention now; returns rows deleted per table and the cutoffs."""
    settings = await get_settings(ctx, fresh=True)
    started = time.monotonic()
    limits = cutoffs(settings, time.time())
    ids: list[str] = await ctx.db.read(
        lambda conn: [r[0] for r in conn.execute(select(tables.servers.c.id)).all()]
    )
    totals = {table.name: 0 for table, _ in _SERVER_TABLES}
    totals["audit_log"] = totals["log_lines"] = 0
    keep_days, keep_bytes = ctx.settings.logs_retention_days, ctx.settings.logs_max_bytes
    for i in range(0, len(ids), SERVERS_PER_JOB):
        chunk = ids[i : i + SERVERS_PER_JOB]
        counts = await ctx.db.write(partial(_delete_for_servers, server_ids=chunk, limits=limits))
        for name, n in counts.items():
            totals[name] += n
    jobs: list[Callable[[Connection], dict[str, int]]] = [
        lambda conn: _delete_old_audit(conn, limits),
        lambda conn: {"log_lines": logs.prune(conn, keep_days, keep_bytes)},
    ]
    if orphans:
        jobs.append(_delete_orphans)
    for job in jobs:
        for name, n in (await ctx.db.write(job)).items():
            totals[name] += n
    elapsed_ms = (time.monotonic() - started) * 1000.0
    if actor != "retention" or any(totals.values()):
        detail: dict[str, Any] = dict(totals)
        await ctx.db.write(lambda conn: record_audit(conn, actor, "data.cleanup", None, detail))
    return {"deleted": totals, "cutoffs": limits, "duration_ms": round(elapsed_ms, 1)}


async def run_periodic(
    ctx: HubContext,
    period_seconds: float = PERIOD_SECONDS,
    first_delay_seconds: float = FIRST_RUN_DELAY_SECONDS,
) -> None:
    """Run `cleanup` forever, every `period_seconds`; cancel the task to stop it.

    Start it from the app lifespan: `task = asyncio.create_task(run_periodic(ctx))` and
    `task.cancel()` on shutdown. A failing run is logged and retried next period.
    """
    await asyncio.sleep(first_delay_seconds)
    while True:
        try:
            result = await cleanup(ctx)
            if any(result["deleted"].values()):
                log.info(
                    "retention: deleted %s in %.0f ms", result["deleted"], result["duration_ms"]
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # the loop must survive one bad run
            log.exception("retention: cleanup failed; retrying in %.0f s", period_seconds)
        await asyncio.sleep(period_seconds)
