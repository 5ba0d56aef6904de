"""Ingest (H1/H2): registration, snapshots, live samples and heartbeats into the store.

Stored shapes (what readers get back with `codec.unpack`):
- `snapshots.detail` and `servers.latest`: the validated snapshot as
  `Snapshot.model_dump(mode="json")` — every model key present (absent optional values are
  `null`), strings exactly as the agent sent them. Snapshots arrive as `SnapshotView`s: the
  pydantic model, or (most of them) its msgspec twin from `api/wire_fast.py`, which encodes to
  the same bytes (`wire_fast.to_json`).
  `servers.latest` is the newest snapshot by `collected_at`; a replayed older one never
  replaces it.
- `live_samples.detail` and `servers.latest_live`: `LiveSample.model_dump(mode="json")`.
- `snapshots.ts` / `live_samples.ts`: `collected_at` (epoch seconds), or the receive time when
  the agent sent none. Hot columns: `hot_values()`.

Writes go through `Database.write_batched`, so all requests queued within a few milliseconds are
stored with one multi-row INSERT and one rollup upsert per bucket, then answered. In an ingest
worker they go to the hub process's writer instead (`FORWARD_KEY`, `dispatch/forward.py`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from fleetwatch.errors import FleetwatchError
from fleetwatch.hub.api.wire_fast import LiveView, to_json
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.events import SnapshotCommitted, SnapshotView
from fleetwatch.hub.services import keys
from fleetwatch.hub.services.ingest_time import TimeWindow, parse_time
from fleetwatch.hub.services.servers import ensure_group
from fleetwatch.hub.services.settings import get_settings
from fleetwatch.hub.store import codec, references, rollups, timeseries
from fleetwatch.hub.store.database import BatchFn
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


@dataclass(frozen=True)
class SnapshotWrite:
    """One request's snapshots (one server)."""

    server_id: str
    rows: list[timeseries.SnapshotRow]
    received_at: float
    agent_version: str | None
    offer: references.Offer | None = None  # the server's compression reference to ensure


@dataclass(frozen=True)
class StoreResult:
    """Per snapshot of the request, its new `snapshots.id`, or None for a duplicate."""

    row_ids: tuple[int | None, ...]
    watch_until: float | None = None  # the server's `live_watch_until` (live on demand)
    reference: references.Reference | None = None  # ensured for the write's offer

    @property
    def stored(self) -> int:
        return sum(1 for row_id in self.row_ids if row_id is not None)

    @property
    def duplicates(self) -> int:
        return len(self.row_ids) - self.stored


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


def store_snapshots(conn: Connection, items: list[SnapshotWrite]) -> list[StoreResult | None]:
    """Writer batch: store many requests' snapshots at once; None for a deleted server."""
    known = timeseries.servers_for_snapshots(conn, [item.server_id for item in items])
    alive = {server_id: watch for server_id, (watch, _last) in known.items()}
    live_items = [item for item in items if item.server_id in alive]
    rows = [row for item in live_items for row in item.rows]
    row_ids = timeseries.insert_snapshots(conn, rows) if rows else []
    rollups.fold(
        conn,
        [row for row, row_id in zip(rows, row_ids, strict=True) if row_id is not None],
        {server_id: last for server_id, (_watch, last) in known.items()},
    )
    seen: dict[str, float] = {}
    versions: dict[str, str | None] = {}
    for item in live_items:
        seen[item.server_id] = max(item.received_at, seen.get(item.server_id, 0.0))
        versions[item.server_id] = item.agent_version or versions.get(item.server_id)
    newest: dict[str, timeseries.SnapshotRow] = {}
    for row, row_id in zip(rows, row_ids, strict=True):
        if row_id is not None and (
            row.server_id not in newest or row.ts >= newest[row.server_id].ts
        ):
            newest[row.server_id] = row
    timeseries.update_servers_latest(
        conn,
        [(sid, seen[sid], r.ts, r.detail, versions[sid]) for sid, r in newest.items()],
    )
    timeseries.touch_servers(conn, [(sid, at) for sid, at in seen.items() if sid not in newest])
    results: list[StoreResult | None] = []
    ids = iter(row_ids)
    for item in items:
        if item.server_id not in alive:
            results.append(None)
            continue
        mine = tuple(next(ids) for _ in item.rows)
        ref = None
        if item.offer is not None:
            ref = references.ensure(conn, item.server_id, item.offer, item.received_at)
        results.append(StoreResult(mine, alive[item.server_id], ref))
    return results


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
    result = await _store(ctx, "snapshots", write, snapshots)
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

#: a writer answer for a live sample or a ping: None when the server is gone, else its
#: `live_watch_until` (live on demand; None when nobody watches)
Watch = tuple[float | None] | None


def store_live(conn: Connection, items: list[timeseries.LiveRow]) -> list[Watch]:
    """Writer batch: live samples; None for a deleted server."""
    alive = timeseries.watched_servers(conn, [r.server_id for r in items])
    rows = [r for r in items if r.server_id in alive]
    if rows:
        timeseries.insert_live(conn, rows)
        timeseries.touch_servers(conn, [(r.server_id, time.time()) for r in rows])
    return [(alive[r.server_id],) if r.server_id in alive else None for r in items]


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
    watch: Watch = await _store(ctx, "live", row)
    if watch is None:
        keys.invalidate_server(ctx, server_id)
        raise ServerGone(server_id)
    return watch[0]


def store_pings(conn: Connection, items: list[tuple[str, float]]) -> list[Watch]:
    alive = timeseries.watched_servers(conn, [server_id for server_id, _ in items])
    timeseries.touch_servers(conn, [item for item in items if item[0] in alive])
    return [(alive[server_id],) if server_id in alive else None for server_id, _ in items]


async def ping(ctx: HubContext, server_id: str) -> float | None:
    """Heartbeat: `last_seen` = now; returns the server's `live_watch_until`."""
    watch: Watch = await _store(ctx, "pings", (server_id, time.time()))
    if watch is None:
        keys.invalidate_server(ctx, server_id)
        raise ServerGone(server_id)
    return watch[0]


#: what an ingest worker's writes go through (`dispatch/forward.py`), by name
STORE_FUNCTIONS: dict[str, BatchFn] = {
    "snapshots": store_snapshots,
    "live": store_live,
    "pings": store_pings,
}
#: ctx.extras key: `await forward(kind, item)` commits `STORE_FUNCTIONS[kind]` elsewhere (an
#: ingest worker sends its writes to the hub process's writer); absent: this process's writer
FORWARD_KEY = "ingest.forward"
Forward = Callable[[str, Any, Sequence[SnapshotView] | None], Awaitable[Any]]


async def _store(
    ctx: HubContext, kind: str, item: Any, snapshots: Sequence[SnapshotView] | None = None
) -> Any:
    forward: Forward | None = ctx.extras.get(FORWARD_KEY)
    if forward is not None:  # `snapshots`: their alert readings travel along
        return await forward(kind, item, snapshots)
    return await ctx.db.write_batched(STORE_FUNCTIONS[kind], item)


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
