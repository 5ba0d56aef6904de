"""Query benchmark (issue 3, "Speed", query half): dashboard API latency on realistic data.

Builds a fresh database (SQLite in a temp folder, or `--database-url`), writes directly in bulk:
- one server with `--days` (30) of 1-minute data: raw snapshot rows (hot columns + a typical
  packed detail blob) and both rollup tiers, exactly the layout ingest maintains;
- `--servers` (1,000) servers, each with its latest snapshot (a demo-fleet snapshot).
Then runs the real app in-process (httpx ASGI transport: the app's own latency, no network) and
reports the median and p95 of `--requests` calls per endpoint, against the targets:

    GET /api/dashboard/server/{id}?hours=24    <= 5 ms
    GET /api/dashboard/server/{id}?hours=72    <= 10 ms
    GET /api/dashboard/server/{id}?hours=2160  <= 20 ms
    GET /api/dashboard (1,000 servers)         <= 50 ms

Smoke run: `python bench/query.py --days 2 --servers 50 --requests 5`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, insert

from fleetwatch.demo import make_fleet, make_snapshot
from fleetwatch.hub.app import create_app, open_database
from fleetwatch.hub.services import tokens
from fleetwatch.hub.services.users import FIRST_ADMIN_NAME
from fleetwatch.hub.settings import load_settings
from fleetwatch.hub.store import tables
from fleetwatch.hub.store.codec import pack

TARGETS_MS = {"hours=24": 5.0, "hours=72": 10.0, "hours=2160": 20.0, "dashboard": 50.0}


def _rollups(server_id: str, rows: list[dict[str, Any]], width: int) -> list[dict[str, Any]]:
    out: dict[float, dict[str, Any]] = {}
    for row in rows:
        start = float(int(row["ts"] // width) * width)
        agg = out.get(start)
        if agg is None:
            agg = out[start] = {"server_id": server_id, "bucket": start}
            for m in tables.HOT_METRICS:
                agg.update({f"{m}_min": row[m], f"{m}_max": row[m], f"{m}_sum": 0.0, f"{m}_n": 0})
        for m in tables.HOT_METRICS:
            v = row[m]
            agg[f"{m}_min"] = min(agg[f"{m}_min"], v)
            agg[f"{m}_max"] = max(agg[f"{m}_max"], v)
            agg[f"{m}_sum"] += v
            agg[f"{m}_n"] += 1
    return list(out.values())


def seed_history(conn: Connection, server_id: str, days: int, now: float) -> int:
    profile = make_fleet(1)[0]
    detail = pack(make_snapshot(profile, now))  # one typical blob: realistic row size
    rows = []
    minutes = days * 1440
    for i in range(minutes):
        ts = now - (minutes - i) * 60.0
        hot = {m: float((i * 7 + n * 13) % 100) for n, m in enumerate(tables.HOT_METRICS)}
        rows.append(
            {"server_id": server_id, "ts": ts, "snapshot_id": f"s{i}", "detail": detail, **hot}
        )
    for i in range(0, len(rows), 5000):
        conn.execute(insert(tables.snapshots), rows[i : i + 5000])
    one_minute = _rollups(server_id, rows, 60)
    for i in range(0, len(one_minute), 5000):
        conn.execute(insert(tables.rollup_1m), one_minute[i : i + 5000])
    conn.execute(insert(tables.rollup_1h), _rollups(server_id, rows, 3600))
    return len(rows)


def seed_servers(conn: Connection, count: int, now: float) -> str:
    fleet = make_fleet(count, now=now)
    first = ""
    batch = []
    for profile in fleet:
        sid = str(uuid.uuid4())
        first = first or sid
        batch.append(
            {
                "id": sid,
                "hostname": profile.hostname + f"-{profile.index}",
                "group_name": profile.group,
                "key_prefix": "fwk_bench",
                "key_hash": "0" * 64,
                "created_at": now - 86400,
                "last_seen": now,
                "last_snapshot_at": now,
                "latest": pack(make_snapshot(profile, now)),
            }
        )
    conn.execute(insert(tables.servers), batch)
    return first


async def measure(client: httpx.AsyncClient, url: str, n: int) -> tuple[float, float]:
    """(median ms, p95 ms) of `n` calls."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return statistics.median(times), p95


async def run(args: argparse.Namespace, data_dir: Path) -> int:
    url = args.database_url or f"sqlite:///{data_dir / 'bench.db'}"
    settings = load_settings({"database_url": url, "data_dir": data_dir}, environ={})
    now = time.time()
    # Seed before the hub starts, as history a running hub already holds: seeded after the
    # start, the 30 days of rows would look newly ingested and the alert engine would be
    # evaluating them all in the background while the queries are timed.
    db = open_database(settings)
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        server_id = seed_servers(conn, args.servers, now)
        n_rows = seed_history(conn, server_id, args.days, now)
    print(
        f"seeded {args.servers} servers, {n_rows} raw rows (+ rollups) for one server "
        f"in {time.perf_counter() - t0:.1f} s ({db.dialect})"
    )
    db.close()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        # the dashboard API needs a user: an API token of the first admin (made at start)
        _info, token = await tokens.create_token(
            ctx, FIRST_ADMIN_NAME, label="bench", actor="bench"
        )
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            cases = [
                (f"hours={h}", f"/api/dashboard/server/{server_id}?hours={h}")
                for h in (24, 72, 2160)
            ]
            cases.append(("dashboard", "/api/dashboard"))
            cold: dict[str, float] = {}
            for name, path in cases:  # cold call, then warm up (a running hub is warm)
                t0 = time.perf_counter()
                (await client.get(path)).raise_for_status()
                cold[name] = (time.perf_counter() - t0) * 1000
                for _ in range(3):
                    (await client.get(path)).raise_for_status()
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"load average before timing: {load} (on {os.cpu_count()} CPUs)")
            print(f"{'endpoint':<44} {'cold':>8} {'median':>8} {'p95':>8} {'target':>7} ratio")
            worst = 0.0
            for name, path in cases:
                median, p95 = await measure(client, path, args.requests)
                first = cold[name]
                target = TARGETS_MS[name]
                ratio = median / target
                worst = max(worst, ratio)
                label = path.replace(server_id, "{id}")
                if name == "dashboard":
                    label += f" ({args.servers} servers)"
                print(
                    f"{label:<44} {first:7.1f}ms {median:7.2f}ms {p95:7.2f}ms "
                    f"{target:5.0f}ms {ratio:5.2f}x"
                )
    print(f"worst median/target ratio: {worst:.2f} ({'meets' if worst <= 1 else 'misses'} targets)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of 1-minute data (30)")
    parser.add_argument("--servers", type=int, default=1000, help="servers on the dashboard")
    parser.add_argument("--requests", type=int, default=50, help="timed calls per endpoint")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetwatch-bench-query-") as tmp:
        return asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
