"""`GET /metrics` (H11): the hub's own figures and the latest numbers of every server, made
with `prometheus_client` (its collectors and its text and OpenMetrics encoders).

Fleet series: each online server's latest snapshot through the same mapping as the agent's own
`/metrics` (`protocol.prometheus`: names, units, labels, documented in docs/agent.md), with
`server_id`, `hostname` and `group` added to every series, and without the per-process,
per-core and service-info series (a pid label per process and scrape would explode any TSDB's
cardinality). A server that is offline keeps only `fleetwatch_server_up 0`: its other series
vanish, as Prometheus expects of a target that is gone. Hub series: `fleetwatch_hub_*`
(process figures from `prometheus_client.ProcessCollector`, servers by status, stream clients
and messages), plus Python's GC and platform collectors. Each server's series are encoded once
per snapshot (`prometheus_cache.py`).
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from sqlalchemy import Connection, select

from fleetwatch import __version__
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.prometheus_cache import (
    EOF_LINE,
    CacheKey,
    Encoder,
    Families,
    SeriesCache,
    encode,
    server_families,
)
from fleetwatch.hub.services.servers import server_status
from fleetwatch.hub.services.settings import get_settings
from fleetwatch.hub.store import tables

#: ctx.extras key: this process's `SeriesCache`
CACHE_KEY = "prometheus.series"


@dataclass(frozen=True)
class ServerRow:
    server_id: str
    hostname: str
    group: str
    online: bool
    snapshot_at: float | None

    @property
    def key(self) -> CacheKey:
        return (self.snapshot_at, self.hostname, self.group)


def _read_servers(conn: Connection, stale_minutes: int, now: float) -> list[ServerRow]:
    s = tables.servers.c
    query = select(s.id, s.hostname, s.group_name, s.last_seen, s.interval_seconds,
                   s.last_snapshot_at)  # fmt: skip
    out = []
    for row in conn.execute(query.order_by(s.hostname, s.id)):
        status = server_status(row.last_seen, row.interval_seconds, stale_minutes, now)
        out.append(ServerRow(str(row.id), row.hostname, row.group_name or "",
                             status == "online", row.last_snapshot_at))  # fmt: skip
    return out


def _read_latest(conn: Connection, ids: list[str]) -> dict[str, bytes | None]:
    s = tables.servers.c
    out: dict[str, bytes | None] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in conn.execute(select(s.id, s.latest).where(s.id.in_(chunk))):
            out[str(row.id)] = row.latest
    return out


def hub_families(rows: list[ServerRow], hub: Mapping[str, Any]) -> list[Metric]:
    """`fleetwatch_server_up` of every server, and the hub's own figures."""
    up = Metric("fleetwatch_server_up", "1 while the server reports.", "gauge")
    for row in rows:
        labels = {"server_id": row.server_id, "hostname": row.hostname, "group": row.group}
        up.add_sample(up.name, labels, 1.0 if row.online else 0.0)
    sink = Families()
    sink.add("fleetwatch_hub_info", "gauge", "Hub version and database (value 1).", 1,
             {"version": __version__, "database": hub["database"]})  # fmt: skip
    for status in ("online", "offline"):
        count = sum(1 for r in rows if r.online == (status == "online"))
        sink.add("fleetwatch_hub_servers", "gauge", "Registered servers by status.", count,
                 {"status": status})  # fmt: skip
    sink.add("fleetwatch_hub_uptime_seconds", "gauge", "Seconds since the hub started.",
             hub["uptime_seconds"])  # fmt: skip
    sink.add("fleetwatch_hub_stream_clients", "gauge", "Clients connected to /ws.",
             hub["stream_clients"])  # fmt: skip
    sink.add("fleetwatch_hub_stream_messages_total", "counter",
             "Messages offered to /ws clients.", hub["stream_messages"])  # fmt: skip
    sink.add("fleetwatch_hub_writer_commits_total", "counter",
             "Transactions the writer committed (each holds many writes).",
             hub["writer_commits"])  # fmt: skip
    sink.add("fleetwatch_hub_writer_writes_total", "counter",
             "Writes (snapshot requests, live samples, pings, ...) committed.",
             hub["writer_writes"])  # fmt: skip
    sink.add("fleetwatch_hub_writer_queue", "gauge", "Writes waiting for the writer.",
             hub["writer_queue"])  # fmt: skip
    return [up, *sink.families.values()]


def alert_families(ctx: HubContext) -> list[Metric]:
    """Alert evaluations and notifications per channel (this hub's engine and notifier)."""
    from fleetwatch.hub.services.alerts import RUNTIME_KEY

    runtime = ctx.extras.get(RUNTIME_KEY)
    if runtime is None:
        return []
    evaluated = Metric("fleetwatch_hub_alert_evaluations", "Snapshots the alert engine "
                       "evaluated against the rules.", "counter")  # fmt: skip
    evaluated.add_sample(evaluated.name + "_total", {}, runtime.engine.snapshots_evaluated)
    sent = Metric("fleetwatch_hub_notifications", "Notifications per channel: sent, failed "
                  "attempts, dropped after the last retry, filtered out.", "counter")  # fmt: skip
    for worker in sorted(runtime.notifier.workers.values(), key=lambda w: w.channel_id):
        stats = worker.stats
        outcomes = {"sent": stats.handled_total, "failed": stats.errors_total,
                    "dropped": stats.dropped_total, "filtered": stats.filtered_total}  # fmt: skip
        for outcome, value in outcomes.items():
            labels = {"channel": worker.name, "type": worker.kind, "outcome": outcome}
            sent.add_sample(sent.name + "_total", labels, value)
    return [evaluated, sent]


def remote_write_families(ctx: HubContext) -> list[Metric]:
    """The remote-write queue of this hub's writer (the leader's only)."""
    from fleetwatch.hub.remote_write.writer import REMOTE_WRITER_KEY

    writer = ctx.extras.get(REMOTE_WRITER_KEY)
    if writer is None:
        return []
    sink = Families()
    sink.add("fleetwatch_hub_remote_write_queue_bytes", "gauge",
             "Remote-write requests waiting to be sent, bytes.", writer.queue.size)  # fmt: skip
    sink.add("fleetwatch_hub_remote_write_queue_batches", "gauge",
             "Remote-write requests waiting to be sent.", len(writer.queue.batches))  # fmt: skip
    return list(sink.families.values())


def selfmon_families(ctx: HubContext) -> list[Metric]:
    """The self-monitor's latest sample and memory trend (H15)."""
    from fleetwatch.hub.services.selfmon import monitor_of

    monitor = monitor_of(ctx)
    if monitor is None or not monitor.samples:
        return []
    last, trend = monitor.samples[-1], monitor.trend()
    sink = Families()
    sink.add("fleetwatch_hub_threads", "gauge", "Threads of the hub process.", last.threads)
    sink.add("fleetwatch_hub_tcp_connections", "gauge", "TCP connections of the hub process.",
             last.connections)  # fmt: skip
    sink.add("fleetwatch_hub_ingest_workers_resident_memory_bytes", "gauge",
             "Resident memory of the ingest worker processes together.",
             last.workers_rss_bytes)  # fmt: skip
    sink.add("fleetwatch_hub_memory_trend_bytes_per_hour", "gauge", "Slope of the hub's RSS "
             "over the trend window (least squares).", trend.bytes_per_hour)  # fmt: skip
    sink.add("fleetwatch_hub_memory_rising", "gauge", "1 while the hub's memory rises "
             "steadily (the self-monitor warns).", 1 if trend.rising else 0)  # fmt: skip
    return list(sink.families.values())


def health_families(scores: Mapping[str, Any]) -> list[Metric]:
    """The health scores (issue 20) of the fleet, each group and each server, and what this
    process logged per level (H14)."""
    from fleetwatch.hub.logsetup import counters

    score = Metric("fleetwatch_health_score", "Health score 0-100 (GET /api/health): "
                   "scope fleet, group or server.", "gauge")  # fmt: skip
    score.add_sample(score.name, {"scope": "fleet"}, scores["fleet"]["score"])
    for g in scores["groups"]:
        score.add_sample(score.name, {"scope": "group", "group": g["name"]}, g["score"])
    for s in scores["servers"]:
        labels = {"scope": "server", "server_id": s["id"], "hostname": s["hostname"],
                  "group": s["group"] or ""}  # fmt: skip
        score.add_sample(score.name, labels, s["score"])
    logged = Metric("fleetwatch_hub_log_messages", "Records this hub process logged, by "
                    "level.", "counter")  # fmt: skip
    for level, count in counters.totals().items():
        logged.add_sample(logged.name + "_total", {"level": level}, count)
    return [score, logged]


def _process(encoder: Encoder) -> bytes:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(namespace="fleetwatch_hub", registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    return encoder(registry)


def render(
    rows: list[ServerRow],
    latest: Mapping[str, bytes | None],
    cache: SeriesCache,
    encoder: Encoder,
    hub: Mapping[str, Any],
    extra: list[Metric] | None = None,
) -> bytes:
    """The whole scrape (CPU work: run it off the event loop); `extra`: more hub families."""
    online = {r.server_id: r.key for r in rows if r.online}
    by_id = {r.server_id: r for r in rows}
    for server_id in cache.stale(encoder, online):
        row = by_id[server_id]
        families = server_families(server_id, row.hostname, row.group, latest.get(server_id))
        cache.put(encoder, server_id, row.key, families)
    parts = [encode([*hub_families(rows, hub), *(extra or [])], encoder),
             cache.text(encoder, online),
             _process(encoder)]  # fmt: skip
    body = b"".join(part.removesuffix(EOF_LINE) for part in parts)
    return body + EOF_LINE if parts[0].endswith(EOF_LINE) else body


async def scrape(ctx: HubContext, accept: str | None, gzip_ok: bool) -> tuple[bytes, str]:
    """One scrape: the body and its content type. Mapping and encoding run in a thread (the
    event loop goes on serving agents meanwhile); only servers that reported since the last
    scrape are read and encoded again."""
    from fleetwatch.hub.stream.broker import broker_of

    settings = await get_settings(ctx)
    now = time.time()
    rows = await ctx.db.read(
        lambda conn: _read_servers(conn, settings.stale_threshold_minutes, now)
    )
    encoder, content_type = choose_encoder(accept or "")
    cache: SeriesCache = ctx.extras.setdefault(CACHE_KEY, SeriesCache())
    stale = cache.stale(encoder, {r.server_id: r.key for r in rows if r.online})
    latest = await ctx.db.read(lambda conn: _read_latest(conn, stale))
    broker = broker_of(ctx)
    hub = {
        "database": ctx.db.dialect,
        "uptime_seconds": now - ctx.started_at,
        "stream_clients": len(broker.clients),
        "stream_messages": broker.messages_queued,
        "writer_commits": ctx.db.batches_committed,
        "writer_writes": ctx.db.jobs_committed,
        "writer_queue": ctx.db.queued(),
    }

    from fleetwatch.hub.services import health

    extra = [*ctx.telemetry.families(), *alert_families(ctx), *remote_write_families(ctx),
             *selfmon_families(ctx), *health_families(await health.health(ctx))]  # fmt: skip

    def build() -> bytes:
        with cache.lock:
            body = render(rows, latest, cache, encoder, hub, extra)
        return gzip.compress(body, compresslevel=1) if gzip_ok else body

    return await asyncio.to_thread(build), content_type
