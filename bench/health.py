"""Health benchmark (`make bench-hub`, issue 20): what the health score and the logging system
cost the hub, in one run.

1. Scores: 1,000 servers (`--servers`) seeded with a latest snapshot each (as `bench/query.py`,
   plus its snapshot row), the real app in-process; each round is one minute's work of the
   leader's recorder (`health_history.record`: the overview's rows and alert counts, the
   latest snapshots' hot columns, every server's, group's and the fleet's score, the rows
   written, hours folded). Timed as CPU seconds of the whole process (the writer and reader
   threads included), in two cases: "warm" (no server reported since the last round) and
   "all reported" (every server has a new snapshot, as each minute in a live fleet: a
   snapshot row each, as ingest writes it). Each server has `--history` older snapshot
   rows (default 120: two hours at one a minute), so a query that scans them shows. The
   collector is settled after start-up (`gc.freeze`) as in a served hub process.
   Goal: <= 50 ms of CPU per minute for 1,000 servers (the "all reported" case).
2. Logging: `bench/ingest.py`'s load on a hub process with its logging setup at INFO (files
   under `<data-dir>/logs`, the default) beside logging off (no files, level error),
   `--pairs` alternated pairs. Goal: >= 0.97x the payloads/s (costs <= 3 %).

Smoke run: `python bench/health.py --servers 50 --rounds 3 --pairs 1 --duration 3`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Connection, insert, select, update

sys.path.insert(0, str(Path(__file__).parent))
from fleetwatch.hub.app import _settle_heap as settle_heap
from fleetwatch.hub.app import create_app, open_database
from fleetwatch.hub.services import health_history
from fleetwatch.hub.settings import load_settings
from fleetwatch.hub.store import tables
from ingest import bench_hub
from ingest import make_fleet as make_load
from query import seed_servers

GOAL_MS = 50.0
GOAL_RATIO = 0.97


def _reported(conn: Connection, stamp: float) -> None:
    """Every server sent a snapshot at `stamp`: a snapshot row each (hot columns, as ingest
    writes them) and the server's latest time (the overview would decode each again)."""
    ids = [r[0] for r in conn.execute(select(tables.servers.c.id))]
    rows = [
        {
            "server_id": sid,
            "ts": stamp,
            "snapshot_id": uuid.uuid4().hex,
            "cpu_percent": 20.0 + i % 70,
            "memory_percent": 40.0 + i % 55,
            "swap_percent": 0.0,
            "disk_percent_max": 50.0 + i % 49,
        }
        for i, sid in enumerate(ids)
    ]
    conn.execute(insert(tables.snapshots), rows)
    conn.execute(update(tables.servers).values(last_snapshot_at=stamp, last_seen=stamp))


async def score_rounds(
    servers: int, rounds: int, data_dir: Path, history: int = 120
) -> dict[str, list[float]]:
    url = f"sqlite:///{data_dir / 'bench.db'}"
    settings = load_settings({"database_url": url, "data_dir": data_dir,
                              "health_interval_seconds": 3600.0}, environ={})  # fmt: skip
    db = open_database(settings)
    with db.engine.begin() as conn:
        start = time.time()
        seed_servers(conn, servers, start)
        for minute in range(history, -1, -1):  # the stored history, then the latest
            _reported(conn, start - 60.0 * minute)
    db.close()
    app = create_app(settings)
    out: dict[str, list[float]] = {"warm": [], "all reported": []}
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        await health_history.record(ctx)  # the first read fills the caches
        settle_heap()  # as a served hub process does once started (gc.freeze)
        for i in range(rounds):
            for case in ("warm", "all reported"):
                if case == "all reported":  # every server sent a snapshot since
                    stamp = time.time() + i * 0.001
                    await ctx.db.write(functools.partial(_reported, stamp=stamp))
                cpu = time.process_time()
                rows = await health_history.record(ctx, now=time.time() + 60 * (2 * i + 1))
                out[case].append((time.process_time() - cpu) * 1000)
        print(f"scores: {servers} servers, {rows} rows a minute, {rounds} rounds per case")
    return out


def logging_pairs(args: argparse.Namespace, work: Path) -> tuple[list[float], list[float]]:
    fleet = make_load(args.load_servers, 20, 60.0)
    args.workers, args.ingest_workers, args.forwarded = 1, None, False
    on: list[float] = []
    off: list[float] = []
    quiet = {"FLEETWATCH_LOG_FILES": "false", "FLEETWATCH_LOG_LEVEL": "error"}
    for pair in range(args.pairs):
        off.append(bench_hub(fleet, args, work / f"off-{pair}", quiet)["load"].rate)
        on.append(
            bench_hub(fleet, args, work / f"on-{pair}", {"FLEETWATCH_LOG_LEVEL": "info"})[
                "load"
            ].rate
        )
        print(f"pair {pair + 1}: logging off {off[-1]:,.0f}/s, on {on[-1]:,.0f}/s", flush=True)
    return on, off


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--history", type=int, default=120)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--load-servers", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-health-") as tmp:
        cpu = asyncio.run(
            score_rounds(args.servers, args.rounds, Path(tmp) / "scores", args.history)
        )
        on, off = logging_pairs(args, Path(tmp))
    print(f"{'health recorder, CPU ms per minute':44}{'median':>10}{'max':>10}{'goal':>8}  ratio")
    for case, values in cpu.items():
        median = statistics.median(values)
        print(f"  {case + f' ({args.servers} servers)':42}{median:>10.1f}{max(values):>10.1f}"
              f"{GOAL_MS:>8.0f}  {median / GOAL_MS:.2f}x")  # fmt: skip
    if not on:
        return 0
    ratio = statistics.mean(on) / statistics.mean(off)
    print(f"{'ingest payloads/s (mean)':44}{'logging on':>12}{'off':>10}")
    print(f"{'':44}{statistics.mean(on):>12,.0f}{statistics.mean(off):>10,.0f}")
    print(f"logging ratio: {ratio:.3f}x (goal >= {GOAL_RATIO}x: costs <= 3 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
