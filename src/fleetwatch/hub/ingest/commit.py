"""The writer's side of ingest: batch functions that run on the single writer connection.

`Database.write_batched` hands each function every request queued within a few milliseconds,
so one multi-row INSERT and one rollup upsert per bucket store them all; each request gets its
own answer back (None for a server deleted meanwhile). `STORE_FUNCTIONS` names them for the
`Writer` seam (`writer.py`): the hub process runs them itself, an ingest worker sends the
name and the item to the hub process, which runs the same function.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection

from fleetwatch.hub.store import references, rollups, timeseries
from fleetwatch.hub.store.database import BatchFn


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


def store_pings(conn: Connection, items: list[tuple[str, float]]) -> list[Watch]:
    alive = timeseries.watched_servers(conn, [server_id for server_id, _ in items])
    timeseries.touch_servers(conn, [item for item in items if item[0] in alive])
    return [(alive[server_id],) if server_id in alive else None for server_id, _ in items]


#: what an ingest worker's writes go through (`dispatch/forward.py`), by name
STORE_FUNCTIONS: dict[str, BatchFn] = {
    "snapshots": store_snapshots,
    "live": store_live,
    "pings": store_pings,
}
