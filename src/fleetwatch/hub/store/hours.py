"""The 1-hour tier: stored for closed hours, folded from the 1-minute tier for the open one.

A server's *open hour* is the hour of its newest snapshot (`servers.last_snapshot_at`). Every
other hour's `rollup_1h` row is exact; the open hour's row is missing, or older than the
newest data. Readers take the open hour from `rollup_1m` (at most 60 rows) instead, through
`hour_tier()`, so what they see is exact at every moment.

Why: upserting the hour row with every snapshot cost the writer as much as inserting the
snapshot itself (~13 us and one more WAL page per snapshot, 60 times per hour for a 60-second
agent). Now the writer (`fold`):
- merges a snapshot of an hour older than the server's open hour (late data, a replayed
  buffer) into that hour's row, as before: closed rows are exact, so they stay exact;
- leaves a snapshot of the open hour, or of a newer one, to the 1-minute tier alone;
- when the open hour moves on (a snapshot of a newer hour), writes each hour that closed
  from its `rollup_1m` rows, in the same transaction (`INSERT .. SELECT .. GROUP BY`).
The rows read are those of the transaction that writes, so nothing committed is missed; on
PostgreSQL the servers' rows are locked first (`FOR UPDATE`) so two writers cannot both take
the same hour for open.

Retention keeps a server's 1-minute rows from its open hour on (`services/retention.py`),
whatever their age: the open hour is always folded from complete minutes. A database written
before this scheme holds exact rows for open hours too, but retention may have deleted some of
their minutes: migration 0007 replaces such minutes with the stored aggregate. (Should minutes
still be missing, readers use the stored row.) On PostgreSQL, deleting a server locks its row
first, as ingest does, so the two cannot deadlock.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    select,
    union_all,
)

from fleetwatch.hub.store.tables import (
    HOT_METRICS,
    ROLLUP_COLUMNS,
    rollup_1h,
    rollup_1m,
    servers,
)
from fleetwatch.hub.store.timeseries import SnapshotRow, bucket_expr, bucket_start

HOUR = 3600


def hour_start(ts: float) -> float:
    return bucket_start(ts, HOUR)


def split(
    rows: Sequence[SnapshotRow], last_snapshot_at: Mapping[str, float | None]
) -> tuple[list[SnapshotRow], list[tuple[str, float]]]:
    """`rows` (just inserted) -> (rows to merge into closed hours, (server, hour) to close).
    `last_snapshot_at`: each server's value before these rows."""
    late: list[SnapshotRow] = []
    fresh: dict[str, set[float]] = {}
    for row in rows:
        hour = hour_start(row.ts)
        last = last_snapshot_at.get(row.server_id)
        if last is not None and hour < hour_start(last):
            late.append(row)
        else:
            fresh.setdefault(row.server_id, set()).add(hour)
    closing: list[tuple[str, float]] = []
    for server_id, hours in fresh.items():
        last = last_snapshot_at.get(server_id)
        if last is not None:
            hours.add(hour_start(last))
        newest = max(hours)  # the open hour from now on
        closing += [(server_id, hour) for hour in sorted(hours) if hour != newest]
    return late, closing


def _unless_single(n: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return case((n <= 1, None), else_=value)


def _fold_minutes(metric: str) -> list[ColumnElement[Any]]:
    """An hour's min/max/sum/n of `metric` from its 1-minute rows (min/max NULL for one value,
    as the writer stores them)."""
    c = rollup_1m.c
    n = cast(func.sum(c[f"{metric}_n"]), Integer)  # as stored (PostgreSQL: not a bigint)
    low = func.min(func.coalesce(c[f"{metric}_min"], c[f"{metric}_sum"]))
    high = func.max(func.coalesce(c[f"{metric}_max"], c[f"{metric}_sum"]))
    return [
        _unless_single(n, low).label(f"{metric}_min"),
        _unless_single(n, high).label(f"{metric}_max"),
        func.sum(c[f"{metric}_sum"]).label(f"{metric}_sum"),
        n.label(f"{metric}_n"),
    ]


@functools.cache
def close_sql(placeholder: str) -> str:
    """Write an hour of a server from its 1-minute rows (parameters: hour, server_id, hour,
    hour + 3600, as `close_params` makes them); an hour without minutes writes nothing."""
    ph = placeholder
    folded = []
    for m in HOT_METRICS:
        n = f"sum({m}_n)"
        single = f"CASE WHEN {n} <= 1 THEN NULL ELSE"
        folded += [
            f"{single} min(COALESCE({m}_min, {m}_sum)) END",
            f"{single} max(COALESCE({m}_max, {m}_sum)) END",
            f"sum({m}_sum)",
            n,
        ]
    columns = list(ROLLUP_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
    return (
        f"INSERT INTO rollup_1h ({', '.join(columns)}) "
        f"SELECT server_id, {ph}, {', '.join(folded)} FROM rollup_1m "
        f"WHERE server_id = {ph} AND bucket >= {ph} AND bucket < {ph} GROUP BY server_id "
        f"ON CONFLICT (server_id, bucket) DO UPDATE SET {updates}"
    )


def close_params(closing: Sequence[tuple[str, float]]) -> list[tuple[Any, ...]]:
    return [(hour, server_id, hour, hour + HOUR) for server_id, hour in closing]


@functools.cache
def hour_tier(dialect: str) -> Subquery:
    """`rollup_1h` as readers must see it, for the server and range bound as `server_id`,
    `start` and `until` (bucket starts in [start, until)): stored rows for closed hours, the
    open hour folded from `rollup_1m` (or its stored row where its minutes are gone)."""
    h, m = rollup_1h, rollup_1m
    server_id: Any = bindparam("server_id", type_=String)
    start: Any = bindparam("start", type_=Float)
    until: Any = bindparam("until", type_=Float)
    newest = select(bucket_expr(servers.c.last_snapshot_at, HOUR, dialect))
    # typed as the buckets are (PostgreSQL would type the binds compared with it as integers)
    opened = cast(
        func.coalesce(newest.where(servers.c.id == server_id).scalar_subquery(), -1.0), Float
    )
    in_range = and_(h.c.server_id == server_id, h.c.bucket >= start, h.c.bucket < until)
    stored_columns = [h.c[name] for name in ROLLUP_COLUMNS]
    closed = select(*stored_columns).where(in_range, h.c.bucket != opened)
    minutes = and_(m.c.server_id == server_id, m.c.bucket >= opened, m.c.bucket < opened + HOUR)
    folded: list[Any] = [m.c.server_id, opened.label("bucket")]
    for metric in HOT_METRICS:
        folded += _fold_minutes(metric)
    from_minutes = (
        select(*folded).where(minutes, opened >= start, opened < until).group_by(m.c.server_id)
    )
    stored_open = select(*stored_columns).where(
        in_range, h.c.bucket == opened, ~exists().where(minutes)
    )
    return union_all(closed, from_minutes, stored_open).subquery("rollup_1h")
