"""`GET /metrics` (H11): the hub's own figures and the latest numbers of every server, made
with `prometheus_client` (its collectors and its text and OpenMetrics encoders).

Fleet series: each online server's latest snapshot through the same mapping as the agent's own
`/metrics` (`protocol.prometheus`: names, units, labels, documented in docs/agent.md), with
`server_id`, `hostname` and `group` added to every series, and without the per-process and
per-core series (a pid label per process and scrape would explode any TSDB's cardinality).
A server that is offline keeps only `fleetwatch_server_up 0`: its other series vanish, as
Prometheus expects of a target that is gone. Hub series: `fleetwatch_hub_*` (process figures
from `prometheus_client.ProcessCollector`, servers by status, stream clients and messages),
plus Python's GC and platform collectors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from sqlalchemy import Connection, select

from fleetwatch import __version__
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.servers import server_status
from fleetwatch.hub.services.settings import get_settings
from fleetwatch.hub.store import codec, tables
from fleetwatch.protocol.prometheus import emit_snapshot


@dataclass(frozen=True)
class ServerRow:
    server_id: str
    hostname: str
    group: str
    online: bool
    latest: bytes | None


class Families:
    """A `protocol.prometheus.Sink` that gathers samples into `prometheus_client` metric
    families; `base` labels go on every sample; a repeated series keeps its first value."""

    def __init__(self) -> None:
        self.families: dict[str, Metric] = {}
        self.base: dict[str, str] = {}
        self._seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def add(
        self,
        name: str,
        kind: str,
        help_text: str,
        value: object,
        labels: Mapping[str, object] | None = None,
    ) -> None:
        if value is None or not isinstance(value, int | float):
            return
        merged = {
            **self.base,
            **{k: "" if v is None else str(v) for k, v in (labels or {}).items()},
        }
        key = (name, tuple(merged.items()))
        if key in self._seen:
            return
        self._seen.add(key)
        family = self.families.get(name)
        if family is None:
            if kind == "counter":  # the family is named without `_total`, its sample with it
                family = Metric(name.removesuffix("_total"), help_text, "counter")
            else:
                family = Metric(name, help_text, "gauge")
            self.families[name] = family
        family.add_sample(name, merged, float(value))


class _Static:
    """A collector of families built before the scrape is encoded."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _read_servers(conn: Connection, stale_minutes: int, now: float) -> list[ServerRow]:
    s = tables.servers.c
    query = select(s.id, s.hostname, s.group_name, s.last_seen, s.interval_seconds, s.latest)
    out = []
    for row in conn.execute(query.order_by(s.hostname, s.id)):
        status = server_status(row.last_seen, row.interval_seconds, stale_minutes, now)
        online = status == "online"
        out.append(ServerRow(str(row.id), row.hostname, row.group_name or "", online,
                             row.latest if online else None))  # fmt: skip
    return out


def fleet_families(rows: list[ServerRow], hub: Mapping[str, Any]) -> list[Metric]:
    """The fleet's series and the hub's own figures (not its process ones)."""
    sink = Families()
    for row in rows:
        sink.base = {"server_id": row.server_id, "hostname": row.hostname, "group": row.group}
        sink.add("fleetwatch_server_up", "gauge", "1 while the server reports.", int(row.online))
        if row.latest is None:
            continue
        try:
            snapshot = codec.unpack(row.latest)
        except (ValueError, TypeError):
            continue
        emit_snapshot(sink, snapshot, per_process=False)
    sink.base = {}
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
    return list(sink.families.values())


def encode(families: list[Metric], accept: str | None) -> tuple[bytes, str]:
    """The scrape body and its content type (OpenMetrics when `accept` asks for it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Static(families))
    ProcessCollector(namespace="fleetwatch_hub", registry=registry)
    GCCollector(registry=registry)
    PlatformCollector(registry=registry)
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


async def scrape(ctx: HubContext, accept: str | None) -> tuple[bytes, str]:
    """One scrape: the body and its content type. Unpacking and encoding run in a thread
    (CPU work: the event loop goes on serving agents meanwhile)."""
    from fleetwatch.hub.stream.broker import broker_of

    settings = await get_settings(ctx)
    now = time.time()
    rows = await ctx.db.read(
        lambda conn: _read_servers(conn, settings.stale_threshold_minutes, now)
    )
    broker = broker_of(ctx)
    hub = {
        "database": ctx.db.dialect,
        "uptime_seconds": now - ctx.started_at,
        "stream_clients": len(broker.clients),
        "stream_messages": broker.messages_queued,
    }
    return await asyncio.to_thread(lambda: encode(fleet_families(rows, hub), accept))
