"""The performance monitor's data: recent live samples and the benchmark (min/avg/max)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, func, select

from fleetwatch.hub.store import tables
from fleetwatch.hub.store.codec import unpack

#: live sample columns the benchmark summarises
BENCHMARK_METRICS: tuple[str, ...] = (
    "cpu_percent",
    "memory_percent",
    "swap_percent",
    "process_count",
    "thread_count",
    "handle_count",
)
MAX_MINUTES = 1440


def _sample(ts: float, detail: bytes | None, row: Any) -> dict[str, Any]:
    data = unpack(detail) if detail else None
    if not isinstance(data, dict):
        data = {name: getattr(row, name) for name in BENCHMARK_METRICS}
    data.pop("sample_id", None)
    data.pop("protocol_version", None)
    data["ts"] = ts
    return data


def read_samples(
    conn: Connection, server_id: str, minutes: float, now: float | None = None
) -> list[dict[str, Any]]:
    """Live samples of the last `minutes`, oldest first, each the full sample plus `ts`."""
    now = time.time() if now is None else now
    t = tables.live_samples
    rows = conn.execute(
        select(t.c.ts, t.c.detail, *(t.c[n] for n in BENCHMARK_METRICS))
        .where(t.c.server_id == server_id, t.c.ts >= now - minutes * 60.0)
        .order_by(t.c.ts)
    ).all()
    return [_sample(float(r.ts), r.detail, r) for r in rows]


def read_benchmark(
    conn: Connection, server_id: str, minutes: float, now: float | None = None
) -> dict[str, Any]:
    """min/avg/max of each benchmark metric over the last `minutes` (None when no samples)."""
    now = time.time() if now is None else now
    t = tables.live_samples
    cols: list[Any] = [func.count()]
    for name in BENCHMARK_METRICS:
        cols += [func.min(t.c[name]), func.avg(t.c[name]), func.max(t.c[name])]
    row = conn.execute(
        select(*cols).where(t.c.server_id == server_id, t.c.ts >= now - minutes * 60.0)
    ).one()
    out: dict[str, Any] = {"minutes": minutes, "samples": int(row[0])}
    for i, name in enumerate(BENCHMARK_METRICS):
        lo, avg, hi = row[1 + 3 * i : 4 + 3 * i]
        out[name] = {
            "min": None if lo is None else float(lo),
            "avg": None if avg is None else float(avg),
            "max": None if hi is None else float(hi),
        }
    return out


def read_live(
    conn: Connection, server_id: str, minutes: float, benchmark: float
) -> dict[str, Any] | None:
    """`GET /api/dashboard/server/{id}/live`: samples, the latest one and the benchmark;
    None when there is no such server."""
    s = tables.servers.c
    row = conn.execute(select(s.id, s.latest_live).where(s.id == server_id)).first()
    if row is None:
        return None
    return {
        "server_id": server_id,
        "minutes": minutes,
        "samples": read_samples(conn, server_id, minutes),
        "latest": unpack(row.latest_live),
        "benchmark": read_benchmark(conn, server_id, benchmark),
    }
