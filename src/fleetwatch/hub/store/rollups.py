"""Rollup tiers maintained as data arrives: `rollup_1m` and `rollup_1h`.

Each row is one (server, bucket) with, per hot metric, `_min`, `_max`, `_sum` and `_n` (the
number of non-null values), so avg = sum / n. A bucket with a single value (the usual 1-minute
bucket of an agent reporting every minute) stores only `_sum`, with `_min` and `_max` NULL
(SQLite stores a NULL in no bytes: ~160 bytes less per row); readers use `low()` and `high()`,
which give the value back. A writer batch is folded in by one statement per
tier that aggregates the just-inserted `snapshots` rows inside the database and merges them
into the stored buckets (`INSERT .. SELECT .. GROUP BY .. ON CONFLICT DO UPDATE`, SQLite >= 3.24
and PostgreSQL): no per-value Python work and no parameters per bucket.
`bucket` is the bucket's start in epoch seconds.

Readers: `TIERS` maps a tier name to (table, bucket width in seconds).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from sqlalchemy import Connection, Table, func

from fleetwatch.hub.store.tables import HOT_METRICS, rollup_1h, rollup_1m

#: tier name -> (table, bucket width in seconds)
TIERS: dict[str, tuple[Table, int]] = {"1m": (rollup_1m, 60), "1h": (rollup_1h, 3600)}


def bucket_start(ts: float, width_seconds: int) -> float:
    return float(math.floor(ts / width_seconds) * width_seconds)


def low(table: Table, metric: str) -> Any:
    """The bucket's minimum of `metric` (the value itself in a single-value bucket)."""
    return func.coalesce(table.c[f"{metric}_min"], table.c[f"{metric}_sum"])


def high(table: Table, metric: str) -> Any:
    """The bucket's maximum of `metric` (the value itself in a single-value bucket)."""
    return func.coalesce(table.c[f"{metric}_max"], table.c[f"{metric}_sum"])


def _pick(a: str, b: str, op: str) -> str:
    """SQL: `a` or `b`, whichever is smaller (`op` "<") or larger (">"), NULLs ignored."""
    return f"CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL OR {a} {op} {b} THEN {a} ELSE {b} END"


def _merge_sets(table: str) -> str:
    """`DO UPDATE SET ...`: fold the incoming aggregate (`excluded`) into the stored one
    (SET expressions read the stored row's old values, in SQLite and PostgreSQL alike)."""
    sets = []
    for m in HOT_METRICS:
        old, new = f"{table}.{m}", f"excluded.{m}"
        single = f"{old}_n + {new}_n <= 1"
        for end, op in (("min", "<"), ("max", ">")):
            a, b = f"COALESCE({old}_{end}, {old}_sum)", f"COALESCE({new}_{end}, {new}_sum)"
            sets.append(f"{m}_{end} = CASE WHEN {single} THEN NULL ELSE {_pick(a, b, op)} END")
        sets += [
            f"{m}_sum = CASE WHEN {new}_sum IS NULL THEN {old}_sum WHEN {old}_sum IS NULL "
            f"THEN {new}_sum ELSE {old}_sum + {new}_sum END",
            f"{m}_n = {old}_n + {new}_n",
        ]
    return ", ".join(sets)


def _columns() -> list[str]:
    names = ["server_id", "bucket"]
    for m in HOT_METRICS:
        names += [f"{m}_min", f"{m}_max", f"{m}_sum", f"{m}_n"]
    return names


@functools.cache
def _fold_sql(table: str, width: int, dialect: str) -> str:
    """Aggregate the given `snapshots` rows into `table` in the database, one statement.

    SQLite takes the inserted id range (`BETWEEN`: inside the writer's transaction every row
    in it is this batch's), PostgreSQL the id array.
    """
    if dialect == "postgresql":
        bucket, where = f"floor(ts / {width}) * {width}", "id = ANY(%s)"
    else:
        bucket, where = f"CAST(ts / {width} AS INTEGER) * {width}", "id BETWEEN ? AND ?"
    aggregates = ", ".join(
        f"CASE WHEN count({m}) > 1 THEN min({m}) END, CASE WHEN count({m}) > 1 THEN max({m}) END, "
        f"sum({m}), count({m})"
        for m in HOT_METRICS
    )
    return (
        f"INSERT INTO {table} ({', '.join(_columns())}) "
        f"SELECT server_id, {bucket} AS b, {aggregates} FROM snapshots WHERE {where} "
        f"GROUP BY server_id, b ON CONFLICT (server_id, bucket) DO UPDATE SET {_merge_sets(table)}"
    )


def fold_rows(conn: Connection, row_ids: list[int]) -> None:
    """Add the `snapshots` rows `row_ids` (all inserted by the current transaction) to every
    tier. The aggregation runs in the database: no values travel back through Python."""
    if not row_ids:
        return
    dialect = conn.dialect.name
    params: tuple[object, ...] = (
        (row_ids,) if dialect == "postgresql" else (min(row_ids), max(row_ids))
    )
    for table, width in TIERS.values():
        conn.exec_driver_sql(_fold_sql(table.name, width, dialect), params)
