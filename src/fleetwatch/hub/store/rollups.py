"""Rollup tiers maintained as data arrives: `rollup_1m` and `rollup_1h`.

Each row is one (server, bucket) with, per hot metric, `_min`, `_max`, `_sum` and `_n` (the
number of non-null values), so a batch of new snapshots is folded in with one upsert per bucket
(`INSERT .. ON CONFLICT DO UPDATE`, SQLite >= 3.24 and PostgreSQL) and avg = sum / n.
`bucket` is the bucket's start in epoch seconds.

Readers: `TIERS` maps a tier name to (table, bucket width in seconds).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table

from fleetwatch.hub.store.tables import HOT_METRICS, rollup_1h, rollup_1m

#: tier name -> (table, bucket width in seconds)
TIERS: dict[str, tuple[Table, int]] = {"1m": (rollup_1m, 60), "1h": (rollup_1h, 3600)}


@dataclass
class Bucket:
    """The aggregate of some samples of one server in one bucket (in memory)."""

    n: list[int] = field(default_factory=lambda: [0] * len(HOT_METRICS))
    low: list[float | None] = field(default_factory=lambda: [None] * len(HOT_METRICS))
    high: list[float | None] = field(default_factory=lambda: [None] * len(HOT_METRICS))
    total: list[float | None] = field(default_factory=lambda: [None] * len(HOT_METRICS))

    def add(self, values: Mapping[str, float | None]) -> None:
        for i, metric in enumerate(HOT_METRICS):
            value = values.get(metric)
            if value is None:
                continue
            low, high, total = self.low[i], self.high[i], self.total[i]
            self.low[i] = value if low is None or value < low else low
            self.high[i] = value if high is None or value > high else high
            self.total[i] = value if total is None else total + value
            self.n[i] += 1


def bucket_start(ts: float, width_seconds: int) -> float:
    return float(math.floor(ts / width_seconds) * width_seconds)


def aggregate(
    samples: Iterable[tuple[str, float, Mapping[str, float | None]]], width_seconds: int
) -> dict[tuple[str, float], Bucket]:
    """Fold `(server_id, ts, hot values)` samples into buckets of `width_seconds`."""
    buckets: dict[tuple[str, float], Bucket] = {}
    for server_id, ts, values in samples:
        key = (server_id, bucket_start(ts, width_seconds))
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = Bucket()
        bucket.add(values)
    return buckets


@functools.cache
def _upsert_sql(table: str, placeholder: str) -> str:
    names = ["server_id", "bucket"]
    sets = []
    for m in HOT_METRICS:
        names += [f"{m}_min", f"{m}_max", f"{m}_sum", f"{m}_n"]
        old, new = f"{table}.{m}", f"excluded.{m}"
        sets += [
            f"{m}_min = CASE WHEN {new}_min IS NULL THEN {old}_min WHEN {old}_min IS NULL "
            f"OR {new}_min < {old}_min THEN {new}_min ELSE {old}_min END",
            f"{m}_max = CASE WHEN {new}_max IS NULL THEN {old}_max WHEN {old}_max IS NULL "
            f"OR {new}_max > {old}_max THEN {new}_max ELSE {old}_max END",
            f"{m}_sum = CASE WHEN {new}_sum IS NULL THEN {old}_sum WHEN {old}_sum IS NULL "
            f"THEN {new}_sum ELSE {old}_sum + {new}_sum END",
            f"{m}_n = {old}_n + {new}_n",
        ]
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join([placeholder] * len(names))})"
        f" ON CONFLICT (server_id, bucket) DO UPDATE SET {', '.join(sets)}"
    )


def upsert(conn: Connection, table: Table, buckets: Mapping[tuple[str, float], Bucket]) -> None:
    """Fold in-memory buckets into `table` (one executemany)."""
    if not buckets:
        return
    placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = _upsert_sql(table.name, placeholder)
    params = []
    for (server_id, start), b in buckets.items():
        row: list[object] = [server_id, start]
        for i in range(len(HOT_METRICS)):
            row += [b.low[i], b.high[i], b.total[i], b.n[i]]
        params.append(tuple(row))
    conn.exec_driver_sql(sql, params)


def fold(conn: Connection, samples: list[tuple[str, float, Mapping[str, float | None]]]) -> None:
    """Add new samples to every tier."""
    for table, width in TIERS.values():
        upsert(conn, table, aggregate(samples, width))
