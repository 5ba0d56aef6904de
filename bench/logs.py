"""Log benchmark (issue 22): the log store and shipping against rsyslog, in one run.

1. Ingest: `fleetwatch hub` (SQLite, rate limits off) as a subprocess; `--servers` registered
   servers; `--connections` keep-alive connections post `POST /api/logs` batches of
   `--batch` lines (~90 bytes each, as an agent ships them) for `--duration` s.
   Anchor: Debian's `rsyslogd` (imtcp on 127.0.0.1 -> omfile) given the same lines over TCP
   by the same kind of client, timed until its file holds them all. Goal: >= 50,000 lines/s.
2. Search: `--search-lines` lines (default 5 M) stored through `logs.store_batch` into a
   SQLite store (full-text index and all), then searches as the API runs them (words, a
   phrase, a prefix, with a server, a level, none), `--queries` rounds. Goal: p50 <= 100 ms,
   p99 <= 300 ms.
3. Agent: a real `fleetwatch agent` tails an app log that a program writes through
   `fleetwatch.applog` at 1,000 lines/s for `--tail-seconds`; the agent's CPU while it does,
   beside the same agent idle for as long. Goal: <= 2 % of a core for the tailing.

Smoke run: `python bench/logs.py --duration 2 --search-lines 20000 --queries 2 --tail-seconds 3`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from ingest import free_port, run_load, stop, tree_cpu_seconds
from stream import start_hub

WORDS = [
    "request",
    "served",
    "checkout",
    "payment",
    "user",
    "order",
    "cache",
    "miss",
    "timeout",
    "retry",
    "database",
    "connection",
    "refused",
    "upstream",
    "worker",
    "started",
    "stopped",
    "queue",
    "job",
    "backup",
    "disk",
    "full",
    "slow",
    "login",
    "failed",
    "token",
    "expired",
    "replica",
    "lag",
    "sync",
    "write",
    "read",
    "error",
    "warning",
]
LEVELS = ("debug", "info", "info", "info", "warning", "error")
GOAL_LINES, GOAL_P50, GOAL_P99, GOAL_CPU = 50_000.0, 100.0, 300.0, 2.0


def message(rng: random.Random, i: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(8))
    return f"{words} id={i} took {rng.randint(1, 999)} ms"


def log_requests(port: int, auths: list[str], batch: int) -> Iterator[bytes]:
    rng = random.Random(7)
    now = time.time()
    lines = [
        {
            "ts": now,
            "app": "shop",
            "source": "/tmp/fleetwatch_log_shop",
            "level": rng.choice(LEVELS),
            "message": message(rng, i),
        }
        for i in range(batch)
    ]
    template = orjson.dumps({"batch_id": "__BID__", "lines": lines})
    k = 0
    while True:
        body = template.replace(b"__BID__", f"b{k}".encode())
        head = (
            f"POST /api/logs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {auths[k % len(auths)]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        yield head.encode() + body
        k += 1


def bench_ingest(args: argparse.Namespace, work: Path) -> float:
    (work / "hub").mkdir()
    proc, base, _token = start_hub(work / "hub", FLEETWATCH_LOGS_LINES_PER_MINUTE="0")
    try:
        auths = []
        for i in range(args.servers):
            body = httpx.post(f"{base}/api/register", json={"hostname": f"log-{i}"}).json()
            auths.append(f"{body['server_id']}:{body['api_key']}")
        port = int(base.rsplit(":", 1)[1])
        result = run_load(
            port, log_requests(port, auths, args.batch), args.connections, args.duration
        )
        if result.failed:
            print(f"ingest: {result.failed} requests failed")
        return result.ok * args.batch / result.seconds
    finally:
        stop(proc)


async def _syslog_send(port: int, lines: list[bytes], connections: int) -> None:
    share = [lines[i::connections] for i in range(connections)]

    async def one(part: list[bytes]) -> None:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(0, len(part), 1000):
            writer.write(b"".join(part[i : i + 1000]))
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(one(p) for p in share))


def bench_rsyslog(args: argparse.Namespace, work: Path, count: int) -> float | None:
    binary = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.path.exists(binary):
        print("rsyslog: not installed (make test-tools installs it); no anchor")
        return None
    port, out, spool = free_port(), work / "rsyslog.out", work / "spool"
    spool.mkdir()
    conf = work / "rsyslog.conf"
    conf.write_text(
        f'global(workDirectory="{spool}")\n'
        'module(load="imtcp")\n'
        f'input(type="imtcp" address="127.0.0.1" port="{port}")\n'
        'template(name="plain" type="string"\n'
        '         string="%timegenerated% %HOSTNAME% %syslogtag%%msg%\\n")\n'
        f'action(type="omfile" file="{out}" template="plain")\n'
    )
    proc = subprocess.Popen(
        [binary, "-n", "-f", str(conf), "-i", str(work / "rsyslog.pid")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        rng = random.Random(7)
        lines = [
            f"<14>Dec  7 12:00:00 log-{i % args.servers} shop: {message(rng, i)}\n".encode()
            for i in range(count)
        ]
        started = time.perf_counter()
        asyncio.run(_syslog_send(port, lines, args.connections))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with out.open("rb") as f:
                if sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) >= count:
                    break
            time.sleep(0.05)
        return count / (time.perf_counter() - started)
    finally:
        proc.terminate()
        proc.wait(10)


def bench_search(args: argparse.Namespace, work: Path) -> list[float]:
    from fleetwatch.hub.app import open_database
    from fleetwatch.hub.services import logs
    from fleetwatch.hub.settings import load_settings

    settings = load_settings(
        {"database_url": f"sqlite:///{work / 'search.db'}", "data_dir": work}, environ={}
    )
    db = open_database(settings)
    rng = random.Random(11)
    servers = [uuid.uuid4().hex for _ in range(50)]
    started, now = time.perf_counter(), time.time()
    for start in range(0, args.search_lines, 20_000):
        batch = [
            logs.Line(
                now - (args.search_lines - i) * 0.1,
                rng.choice(("shop", "api", "db")),
                "/var/log/app.log",
                rng.choice(LEVELS),
                message(rng, i),
            )
            for i in range(start, min(args.search_lines, start + 20_000))
        ]
        with db.engine.begin() as conn:
            logs.store_batch(conn, servers[start // 20_000 % 50], f"s{start}", batch, now)
    print(f"search: stored {args.search_lines:,} lines in {time.perf_counter() - started:.0f} s")
    queries = [
        logs.LogQuery(q="payment"),
        logs.LogQuery(q="connection refused"),
        logs.LogQuery(q='"disk full"'),
        logs.LogQuery(q="repl*"),
        logs.LogQuery(q="timeout", server_id=servers[3]),
        logs.LogQuery(q="login failed", level="error"),
        logs.LogQuery(level="error"),
        logs.LogQuery(server_id=servers[7], app="db"),
        logs.LogQuery(q="id=4242"),
    ]
    times: list[float] = []
    with db.engine.connect() as conn:
        for _ in range(args.queries):
            for query in queries:
                t = time.perf_counter()
                logs.search_rows(conn, query)
                times.append((time.perf_counter() - t) * 1000)
    db.close()
    return times


def bench_agent(args: argparse.Namespace, work: Path) -> tuple[float, float]:
    """(idle CPU %, tailing CPU %) of a real agent process."""
    (work / "agenthub").mkdir()
    proc, base, _token = start_hub(work / "agenthub", FLEETWATCH_LOGS_LINES_PER_MINUTE="0")
    applogs = work / "applogs"
    applogs.mkdir()
    config = work / "agent.json"
    config.write_text(
        json.dumps(
            {
                "dashboard_url": base,
                "collection_interval_seconds": 30,
                "log_file": str(work / "agent.log"),
                "logs": {"applog_dir": str(applogs), "max_bytes_per_second": 10 << 20},
            }
        )
    )
    agent = subprocess.Popen(
        [sys.executable, "-m", "fleetwatch.cli.main", "agent", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    writer = (
        "import sys, time\nfrom fleetwatch import applog\n"
        f"log = applog.open('bench', directory={str(applogs)!r}, app='bench')\n"
        "end = time.monotonic() + float(sys.argv[1]); i = 0\n"
        "while time.monotonic() < end:\n"
        "    t = time.monotonic()\n"
        "    for _ in range(100):\n"
        "        log.info(f'request served checkout user order {i} took 12 ms'); i += 1\n"
        "    time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))\n"
    )
    try:
        time.sleep(5.0)  # enrolled, first cycle done
        cpu0, t0 = tree_cpu_seconds(agent.pid), time.perf_counter()
        time.sleep(args.tail_seconds)
        idle = (tree_cpu_seconds(agent.pid) - cpu0) / (time.perf_counter() - t0) * 100
        cpu0, t0 = tree_cpu_seconds(agent.pid), time.perf_counter()
        subprocess.run([sys.executable, "-c", writer, str(args.tail_seconds)], check=True)
        time.sleep(1.5)  # the last second's lines shipped
        busy = (tree_cpu_seconds(agent.pid) - cpu0) / (time.perf_counter() - t0) * 100
        return idle, busy
    finally:
        agent.terminate()
        agent.wait(15)
        stop(proc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=20)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--search-lines", type=int, default=5_000_000)
    ap.add_argument("--queries", type=int, default=10)
    ap.add_argument("--tail-seconds", type=float, default=15.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-logs-") as tmp:
        work = Path(tmp)
        hub_rate = bench_ingest(args, work)
        anchor = bench_rsyslog(args, work, int(max(hub_rate, 1) * args.duration))
        times = bench_search(args, work)
        idle, busy = bench_agent(args, work)
    print(f"{'log lines in, lines/s':44}{'fleetwatch':>12}{'rsyslog':>10}{'goal':>9}  ratio")
    anchor_text = f"{anchor:>10,.0f}" if anchor else f"{'-':>10}"
    ratio = f"{hub_rate / anchor:.2f}x rsyslog" if anchor else "-"
    print(
        f"  {'ingest (store + full-text index)':42}{hub_rate:>12,.0f}{anchor_text}"
        f"{GOAL_LINES:>9,.0f}  {ratio}, {hub_rate / GOAL_LINES:.2f}x goal"
    )
    p50 = statistics.median(times)
    p99 = sorted(times)[min(len(times) - 1, int(0.99 * len(times)))]
    print(
        f"search over {args.search_lines:,} lines, ms       p50 {p50:7.1f} (goal {GOAL_P50:.0f})"
        f"   p99 {p99:7.1f} (goal {GOAL_P99:.0f})"
    )
    print(
        f"agent tailing 1,000 lines/s, % of a core   {busy - idle:5.2f} (goal <= {GOAL_CPU})"
        f"   [idle {idle:.2f} %, tailing {busy:.2f} %]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
