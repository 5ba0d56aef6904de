"""Rollup tiers maintained as data arrives: `rollup_1m` and `rollup_1h`.

Each row is one (server, bucket) with, per hot metric, `_min`, `_max`, `_sum` and `_n` (the
number of non-null values), so avg = sum / n. A bucket with a single value (the usual 1-minute
bucket of an agent reporting every minute) stores only `_sum`, with `_min` and `_max` NULL
(SQLite stores a NULL in no bytes: ~160 bytes less per row); readers use `low()` and `high()`,
which give the value back. A writer batch is folded in by one statement per tier: the batch's
aggregates per (server, bucket), computed in Python from the rows in hand, merged into the
stored buckets (`INSERT .. VALUES .. ON CONFLICT DO UPDATE` with `executemany`, SQLite >= 3.24
and PostgreSQL). The 1-hour tier is stored for closed hours only; the open hour of each server
is folded from its minutes when it closes, and by readers until then (`store/hours.py`).
`bucket` is the bucket's start in epoch seconds.

Readers: `TIERS` maps a tier name to (table, bucket width in seconds); the 1-hour tier is read
through `hours.hour_tier()`, never from `rollup_1h` alone.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, FromClause, Table, func

from fleetwatch.hub.store import hours
from fleetwatch.hub.store.tables import HOT_METRICS, ROLLUP_COLUMNS, rollup_1h, rollup_1m
from fleetwatch.hub.store.timeseries import SnapshotRow, bucket_start, driver_cursor

#: tier name -> (table, bucket width in seconds)
TIERS: dict[str, tuple[Table, int]] = {"1m": (rollup_1m, 60), "1h": (rollup_1h, 3600)}


def low(table: FromClause, metric: str) -> Any:
    """The bucket's minimum of `metric` (the value itself in a single-value bucket)."""
    return func.coalesce(table.c[f"{metric}_min"], table.c[f"{metric}_sum"])


def high(table: FromClause, metric: str) -> Any:
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


def _columns(single: bool = False) -> list[str]:
    """The fold's parameter columns; `single`: a one-value bucket's, without `_min`/`_max`
    (NULL by default)."""
    if not single:
        return list(ROLLUP_COLUMNS)
    return [c for c in ROLLUP_COLUMNS if not c.endswith(("_min", "_max"))]


@functools.cache
def _fold_sql(table: str, placeholder: str, single: bool = False) -> str:
    """Merge one precomputed bucket aggregate into `table` (run with `executemany`: one
    statement text whatever the batch, so the driver prepares it once per connection; a text
    per batch size made SQLite compile this long statement again and again). A one-value
    bucket leaves out its NULL `_min`/`_max` parameters: Python's sqlite3 binds a None through
    its adapter lookup, ~0.25 us each, which for 22 of them cost more than inserting the row."""
    columns = _columns(single)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join([placeholder] * len(columns))}) "
        f"ON CONFLICT (server_id, bucket) DO UPDATE SET {_merge_sets(table)}"
    )


def _aggregate(values: list[float]) -> tuple[float | None, float | None, float | None, int]:
    """(min, max, sum, n) of one metric in one bucket; min and max only for 2+ values."""
    if not values:
        return None, None, None, 0
    if len(values) == 1:
        return None, None, values[0], 1
    return min(values), max(values), math.fsum(values), len(values)


def _buckets(
    rows: Sequence[SnapshotRow], width: int
) -> tuple[list[list[object]], list[list[object]]]:
    """Parameter rows per (server, bucket) of `rows`: those of one snapshot (the usual case) in
    `_columns(single=True)` order, the others in `_columns()` order."""
    grouped: dict[tuple[str, float], list[SnapshotRow]] = {}
    for row in rows:
        grouped.setdefault((row.server_id, bucket_start(row.ts, width)), []).append(row)
    singles: list[list[object]] = []
    several: list[list[object]] = []
    for (server_id, bucket), members in grouped.items():
        values: list[object] = [server_id, bucket]
        if len(members) == 1:  # as `_aggregate` of one value or none, min and max left out
            for v in members[0].hot:
                values += (None, 0) if v is None else (v, 1)
            singles.append(values)
        else:
            for i in range(len(HOT_METRICS)):
                values += _aggregate([v for r in members if (v := r.hot[i]) is not None])
            several.append(values)
    return singles, several


def fold(
    conn: Connection, rows: Sequence[SnapshotRow], last_snapshot_at: Mapping[str, float | None]
) -> None:
    """Add the `snapshots` rows just inserted by the current transaction to the tiers: their
    aggregates per (server, bucket) are computed here, from the values in hand (reading the
    rows back and grouping them in SQL cost the writer more), and merged bucket by bucket into
    `rollup_1m`; `rollup_1h` gets the rows of closed hours and the hours these rows close
    (`store/hours.py`). `last_snapshot_at`: each server's value before these rows."""
    if not rows:
        return
    placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    cursor = driver_cursor(conn)
    _merge(cursor, rollup_1m.name, 60, rows, placeholder)
    late, closing = hours.split(rows, last_snapshot_at)
    _merge(cursor, rollup_1h.name, hours.HOUR, late, placeholder)
    if closing:  # after the minutes above: the hours are folded from them
        cursor.executemany(hours.close_sql(placeholder), hours.close_params(closing))


def _merge(
    cursor: Any, table: str, width: int, rows: Sequence[SnapshotRow], placeholder: str
) -> None:
    singles, several = _buckets(rows, width)
    if singles:
        cursor.executemany(_fold_sql(table, placeholder, single=True), singles)
    if several:
        cursor.executemany(_fold_sql(table, placeholder), several)
