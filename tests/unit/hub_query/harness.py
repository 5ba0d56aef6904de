"""Test harness of the query side: a hub in-process on a real database, and direct seeding.

The hub, its client and throwaway PostgreSQL schemas come from `hubtest` (one harness for all
hub tests); this module adds the `Hub` handle (client, context, engine) and the seeding helpers.

Seeding writes rows straight into the tables (servers, snapshots and both rollup tiers computed
here) so query tests do not depend on the ingest path; end-to-end tests use the public API.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.store import tables
from fleetwatch.hub.store.codec import pack
from hubtest import SyncClient, ctx_of, postgres_schema, sync_hub_client


@dataclass
class Hub:
    client: SyncClient
    ctx: HubContext

    @property
    def engine(self) -> Engine:
        return self.ctx.db.engine


@contextmanager
def running_hub(database_url: str, data_dir: Path) -> Iterator[Hub]:
    """The real app (lifespan, writer, migrations) behind an in-process HTTP client."""
    with sync_hub_client(data_dir, database_url) as client:
        yield Hub(client=client, ctx=ctx_of(client))


def database_url(backend: str, tmp_path: Path, postgres_base: str | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    assert postgres_base is not None
    with postgres_schema(postgres_base) as url:
        yield url


def insert_server(
    engine: Engine,
    *,
    hostname: str = "web-01",
    server_id: str | None = None,
    group_name: str | None = None,
    last_seen: float | None = None,
    snapshot: Mapping[str, Any] | None = None,
    live: Mapping[str, Any] | None = None,
    interval_seconds: int | None = None,
    display_name: str | None = None,
) -> str:
    server_id = server_id or str(uuid.uuid4())
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            insert(tables.servers).values(
                id=server_id,
                hostname=hostname,
                display_name=display_name,
                group_name=group_name,
                key_prefix="fwk_test",
                key_hash=hashlib.sha256(server_id.encode()).hexdigest(),
                created_at=now - 86400,
                last_seen=last_seen,
                last_snapshot_at=last_seen if snapshot is not None else None,
                interval_seconds=interval_seconds,
                tags=orjson.dumps(["t1"]).decode(),
                latest=pack(dict(snapshot)) if snapshot is not None else None,
                latest_live=pack(dict(live)) if live is not None else None,
            )
        )
    return server_id


def _rollup_rows(
    server_id: str, points: Sequence[tuple[float, Mapping[str, float]]], width: int
) -> list[dict[str, Any]]:
    buckets: dict[float, dict[str, Any]] = {}
    for ts, values in points:
        start = float(int(ts // width) * width)
        row = buckets.setdefault(start, {"server_id": server_id, "bucket": start})
        for name in tables.HOT_METRICS:
            v = values.get(name)
            if v is None:
                row.setdefault(f"{name}_n", 0)
                continue
            row[f"{name}_min"] = min(v, row.get(f"{name}_min", v))
            row[f"{name}_max"] = max(v, row.get(f"{name}_max", v))
            row[f"{name}_sum"] = row.get(f"{name}_sum", 0.0) + v
            row[f"{name}_n"] = row.get(f"{name}_n", 0) + 1
    full = []
    for row in buckets.values():
        for name in tables.HOT_METRICS:
            for suffix in ("_min", "_max", "_sum"):
                row.setdefault(name + suffix, None)
            row.setdefault(f"{name}_n", 0)
        full.append(row)
    return full


def insert_series(
    conn_or_engine: Engine | Connection,
    server_id: str,
    points: Sequence[tuple[float, Mapping[str, float]]],
    *,
    raw: bool = True,
) -> None:
    """Store `points` as raw snapshots (if `raw`) and as 1-minute and 1-hour rollups."""

    def run(conn: Connection) -> None:
        if raw:
            raw_rows = [
                {
                    "server_id": server_id,
                    "ts": ts,
                    "snapshot_id": None,
                    "detail": None,
                    **{n: values.get(n) for n in tables.HOT_METRICS},
                }
                for ts, values in points
            ]
            conn.execute(insert(tables.snapshots), raw_rows)
        conn.execute(insert(tables.rollup_1m), _rollup_rows(server_id, points, 60))
        conn.execute(insert(tables.rollup_1h), _rollup_rows(server_id, points, 3600))

    if isinstance(conn_or_engine, Connection):
        run(conn_or_engine)
    else:
        with conn_or_engine.begin() as conn:
            run(conn)


def insert_live(
    engine: Engine, server_id: str, samples: Sequence[tuple[float, dict[str, Any]]]
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(tables.live_samples),
            [
                {
                    "server_id": server_id,
                    "ts": ts,
                    "cpu_percent": s["cpu_percent"],
                    "memory_percent": s["memory_percent"],
                    "swap_percent": s.get("swap_percent", 0.0),
                    "process_count": s.get("process_count", 0),
                    "thread_count": s.get("thread_count", 0),
                    "handle_count": s.get("handle_count", 0),
                    "detail": pack(s),
                }
                for ts, s in samples
            ],
        )
