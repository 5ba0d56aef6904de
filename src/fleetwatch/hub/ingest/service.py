"""Ingest (H1/H2): registration, snapshots, live samples and heartbeats into the store.

Stored shapes (what readers get back with `codec.unpack`):
- `snapshots.detail` and `servers.latest`: the validated snapshot as
  `Snapshot.model_dump(mode="json")` — every model key present (absent optional values are
  `null`), strings exactly as the agent sent them. Snapshots arrive as `SnapshotView`s: the
  pydantic model, or (most of them) its msgspec twin from `ingest/decode.py`, which encodes to
  the same bytes (`decode.to_json`).
  `servers.latest` is the newest snapshot by `collected_at`; a replayed older one never
  replaces it.
- `live_samples.detail` and `servers.latest_live`: `LiveSample.model_dump(mode="json")`.
- `snapshots.ts` / `live_samples.ts`: `collected_at` (epoch seconds), or the receive time when
  the agent sent none. Hot columns: `hot_values()`.

Writes are batched by the writer (`commit.py`): all requests queued within a few milliseconds
are stored with one multi-row INSERT and one rollup upsert per bucket, then answered. They
all go through the `Writer` seam (`writer.py`; an ingest worker's go to the hub process).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import orjson
from sqlalchemy import Connection, text

from fleetwatch.errors import FleetwatchError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.events import EventBus, LiveCommitted, SnapshotCommitted, SnapshotView
from fleetwatch.hub.ingest.commit import SnapshotWrite, StoreResult, Watch
from fleetwatch.hub.ingest.decode import LiveView, to_json
from fleetwatch.hub.ingest.timewindow import TimeWindow, parse_time
from fleetwatch.hub.ingest.writer import writer_of
from fleetwatch.hub.services import keys
from fleetwatch.hub.services.servers import ensure_group
from fleetwatch.hub.services.settings import get_settings
from fleetwatch.hub.store import codec, references, timeseries
from fleetwatch.hub.store.tables import HOT_METRICS, servers
from fleetwatch.protocol.models import Registration


class ServerGone(FleetwatchError):
    """The server was deleted while its agent was still sending."""


def hot_values(snapshot: SnapshotView) -> dict[str, float | None]:
    """The numbers stored as columns (and rolled up) for one snapshot; None when not sent."""
    m = snapshot.metrics
    return {
        "cpu_percent": m.cpu_percent,
        "memory_percent": m.memory_percent,
        "swap_percent": m.swap.percent if m.swap else None,
        "load_1": m.cpu.load_1 if m.cpu else None,
        "disk_percent_max": max((d.percent for d in m.disks), default=None),
        "net_sent_bytes_per_sec": m.network.bytes_sent_per_sec,
        "net_recv_bytes_per_sec": m.network.bytes_recv_per_sec,
        "disk_read_bytes_per_sec": m.disk_io.read_bytes_per_sec if m.disk_io else None,
        "disk_write_bytes_per_sec": m.disk_io.write_bytes_per_sec if m.disk_io else None,
        "process_count": None if m.process_count is None else float(m.process_count),
        "thread_count": None if m.thread_count is None else float(m.thread_count),
    }


def prepare_snapshots(
    server_id: str,
    snapshots: Sequence[SnapshotView],
    received_at: float,
    field_prefix: str,
    refs: references.References,
    window: TimeWindow | None = None,
) -> SnapshotWrite:
    """Everything CPU-bound (hot values, encoding) happens here, outside the writer thread."""
    texts = [to_json(snap) for snap in snapshots]  # never empty: the models require one
    details, offer = refs.pack(server_id, texts, received_at)
    rows = []
    for i, (snap, detail) in enumerate(zip(snapshots, details, strict=True)):
        where = f"{field_prefix}[{i}]." if field_prefix else ""
        ts = parse_time(snap.collected_at, f"{where}collected_at", received_at, window)
        hot = hot_values(snap)
        rows.append(
            timeseries.SnapshotRow(
                server_id=server_id,
                ts=ts,
                snapshot_id=snap.snapshot_id,
                hot=tuple(hot[name] for name in HOT_METRICS),
                detail=detail,
                stamped=snap.collected_at is None,
            )
        )
    version = next((s.agent.version for s in reversed(snapshots) if s.agent), None) or None
    return SnapshotWrite(server_id, rows, received_at, version, offer)


async def ingest_snapshots(
    ctx: HubContext, server_id: str, snapshots: Sequence[SnapshotView], batch: bool = False
) -> StoreResult:
    """Store snapshots of `server_id`; returns after commit. Raises ServerGone, BadTimestamp."""
    refs = _references(ctx)
    prefix = "snapshots" if batch else ""
    now = time.time()
    retention = (await get_settings(ctx)).raw_retention_hours * 3600.0
    window = TimeWindow(now, ctx.settings.max_clock_skew_seconds, retention)
    write = prepare_snapshots(server_id, snapshots, now, prefix, refs, window)
    result = await writer_of(ctx)("snapshots", write, snapshots)
    if result is None:
        keys.invalidate_server(ctx, server_id)
        refs.forget(server_id)
        raise ServerGone(server_id)
    assert isinstance(result, StoreResult)
    if result.reference is not None:  # committed: later snapshots are packed against it
        refs.adopt(server_id, result.reference)
    bus = ctx.extras.get("events")
    if bus is not None and bus.has_subscribers:  # publishing never blocks
        for row, snap, row_id in zip(write.rows, snapshots, result.row_ids, strict=True):
            if row_id is not None:  # a duplicate was committed before, and announced then
                bus.publish(SnapshotCommitted(server_id, row.ts, snap, row_id))
    return result


def _references(ctx: HubContext) -> references.References:
    refs = ctx.extras.get(REFERENCES_KEY)
    if refs is None:
        refs = ctx.extras[REFERENCES_KEY] = references.References()
    assert isinstance(refs, references.References)
    return refs


#: ctx.extras key: this process's compression reference per server
REFERENCES_KEY = "ingest.references"


async def ingest_live(ctx: HubContext, server_id: str, sample: LiveView) -> float | None:
    """Store a live sample; returns the server's `live_watch_until`. Raises ServerGone."""
    now = time.time()
    retention = (await get_settings(ctx)).live_retention_minutes * 60.0
    window = TimeWindow(now, ctx.settings.max_clock_skew_seconds, retention)
    ts = parse_time(sample.collected_at, "collected_at", now, window)
    hot = tuple(
        float(v) if v is not None else None
        for v in (getattr(sample, name) for name in timeseries.LIVE_HOT)
    )
    row = timeseries.LiveRow(server_id, ts, hot, codec.pack_json(to_json(sample)))
    watch: Watch = await writer_of(ctx)("live", row)
    if watch is None:
        keys.invalidate_server(ctx, server_id)
        raise ServerGone(server_id)
    publish_live(ctx.extras.get("events"), row)
    return watch[0]


def publish_live(bus: EventBus | None, row: timeseries.LiveRow) -> None:
    """Announce a committed live sample (here, or on the hub for an ingest worker's write:
    `dispatch/store_server.py`; a worker's own bus has no subscribers)."""
    if bus is not None and bus.has_subscribers:
        bus.publish(LiveCommitted(row.server_id, row.ts, row.detail))


async def ping(ctx: HubContext, server_id: str) -> float | None:
    """Heartbeat: `last_seen` = now; returns the server's `live_watch_until`."""
    watch: Watch = await writer_of(ctx)("pings", (server_id, time.time()))
    if watch is None:
        keys.invalidate_server(ctx, server_id)
        raise ServerGone(server_id)
    return watch[0]


async def register(ctx: HubContext, registration: Registration) -> tuple[str, str]:
    """Create a server; returns (server_id, api_key). The key is never stored or shown again."""
    server_id = str(uuid.uuid4())
    api_key = keys.new_key()
    values = {
        "id": server_id,
        "hostname": registration.hostname,
        "display_name": registration.display_name,
        "ip_address": registration.ip_address,
        "os_info": registration.os_info,
        "group_name": registration.group_name,
        "tags": orjson.dumps(registration.tags).decode() if registration.tags else None,
        "agent_version": registration.agent_version,
        "key_prefix": keys.display_prefix(api_key),
        "key_hash": keys.hash_key(api_key),
        "created_at": time.time(),
    }

    def insert(conn: Connection) -> None:
        conn.execute(servers.insert().values(**values))
        if registration.group_name:  # the group gets its colour now, one no other group has
            ensure_group(conn, registration.group_name)

    await ctx.db.write(insert)
    return server_id, api_key


async def probe_database(ctx: HubContext) -> None:
    """`GET /api/ping`'s check: one round trip to the database (raises when it is down)."""

    def probe(conn: Connection) -> None:
        conn.execute(text("SELECT 1"))

    await ctx.db.read(probe)
