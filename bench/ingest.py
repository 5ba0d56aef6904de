"""Ingest benchmark (`make bench-hub`): the real hub against VictoriaMetrics, same samples.

1. Start `fleetwatch hub` (SQLite, default settings, rate limits off) as a subprocess; register
   `--servers` servers; a raw asyncio HTTP/1.1 load generator keeps `--connections` keep-alive
   connections busy posting seed-001-shaped snapshots (~5 KB, ~120 numbers) for `--duration` s.
   Reported: payloads/s, p50/p99 latency, bytes per sample on disk (database growth / numbers).
2. Start VictoriaMetrics (`/usr/bin/victoria-metrics`) on 127.0.0.1 with a temporary storage
   folder and post *the same samples* (same values and timestamps) as Prometheus text to
   `/api/v1/import/prometheus` with the same generator; force a flush; same figures.

Targets (issue 3): hub >= 0.5x VictoriaMetrics' payloads/s, p99 <= 50 ms, <= 10 bytes/sample.
The generator runs on the same cores as the server under test (a 2-core machine is shared), so
absolute figures are lower than the server alone could do; both sides pay the same tax.
Payloads: `--variants` distinct snapshots per server are pre-generated and replayed with fresh
snapshot ids and timestamps (`--interval` seconds apart per server), so generating load costs
almost nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).parent))
from payloads import SimulatedServer, count_numbers

VM_BINARY = "/usr/bin/victoria-metrics"
ANCHOR = "VictoriaMetrics"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- payloads ---------------------------------------------------------------------------------


@dataclass
class Fleet:
    snapshots: list[list[dict[str, Any]]]  # per server, `variants` snapshots
    numbers_per_payload: float
    start_ts: float
    interval: float


def make_fleet(servers: int, variants: int, interval: float) -> Fleet:
    rng = random.Random(42)
    # inside the hub's raw retention (48 h) and VictoriaMetrics' default retention: the hub
    # refuses snapshots older than it keeps (26.9); a 30 s run advances ~5 h of sample time
    start = time.time() - 12 * 3600
    sims = [SimulatedServer(i, rng) for i in range(servers)]
    snaps = [[sim.snapshot(start + k * interval) for k in range(variants)] for sim in sims]
    numbers = statistics.mean(count_numbers(s) for per in snaps for s in per[:3])
    return Fleet(snaps, numbers, start, interval)


def _prom_lines(snapshot: dict[str, Any], server: str) -> list[str]:
    """One Prometheus sample line per number in the snapshot (lists labelled by index)."""
    lines: list[str] = []

    def walk(value: Any, name: str, labels: str) -> None:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return
        if isinstance(value, int | float):
            lines.append(f'fw_{name}{{server="{server}"{labels}}} {value} __TS__')
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{name}_{key}" if name else key, labels)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, name, f'{labels},idx="{i}"')

    walk({k: v for k, v in snapshot.items() if k != "snapshot_id"}, "", "")
    return lines


Request = Callable[[], bytes]


def hub_requests(
    fleet: Fleet, port: int, auth: list[str], extra_headers: str = ""
) -> Iterator[bytes]:
    templates = []
    for per in fleet.snapshots:
        row = []
        for snap in per:
            body = dict(snap, snapshot_id="__SID__", collected_at="__TS__")
            row.append(orjson.dumps(body))
        templates.append(row)
    k = 0
    while True:
        for s, row in enumerate(templates):
            ts = datetime.fromtimestamp(fleet.start_ts + k * fleet.interval, UTC).isoformat()
            body = row[k % len(row)].replace(b"__SID__", f"{s}-{k}".encode())
            body = body.replace(b"__TS__", ts.encode())
            head = (
                f"POST /api/metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {auth[s]}\r\nContent-Type: application/json\r\n"
                f"{extra_headers}Content-Length: {len(body)}\r\n\r\n"
            )
            yield head.encode() + body
        k += 1


def vm_requests(fleet: Fleet, port: int) -> Iterator[bytes]:
    templates = [
        ["\n".join(_prom_lines(snap, f"bench-{s:04d}")).encode() + b"\n" for snap in per]
        for s, per in enumerate(fleet.snapshots)
    ]
    k = 0
    while True:
        for row in templates:
            ts_ms = str(int((fleet.start_ts + k * fleet.interval) * 1000)).encode()
            body = row[k % len(row)].replace(b"__TS__", ts_ms)
            head = (
                f"POST /api/v1/import/prometheus HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            yield head.encode() + body
        k += 1


# --- load generator -----------------------------------------------------------------------------


@dataclass
class LoadResult:
    ok: int
    failed: int
    seconds: float
    latencies_ms: list[float]
    body_bytes: int

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")


async def _connection(
    port: int, requests: Iterator[bytes], deadline: float, result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            request = next(requests)
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            if status.split(b" ", 2)[1] in (b"200", b"204"):
                result.ok += 1
                result.body_bytes += len(request)
            else:
                result.failed += 1
    finally:
        writer.close()


async def _load(
    port: int, requests: Iterator[bytes], connections: int, seconds: float
) -> LoadResult:
    result = LoadResult(0, 0, seconds, [], 0)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_connection(port, requests, deadline, result) for _ in range(connections))
    )
    result.seconds = time.perf_counter() - started
    return result


def run_load(port: int, requests: Iterator[bytes], connections: int, seconds: float) -> LoadResult:
    try:
        import uvloop

        return uvloop.run(_load(port, requests, connections, seconds))
    except ImportError:
        return asyncio.run(_load(port, requests, connections, seconds))


# --- the two systems ----------------------------------------------------------------------------


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (uvicorn workers)."""
    import psutil

    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    total = 0.0
    for p in procs:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def sqlite_bytes(db: Path) -> tuple[int, dict[str, int]]:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    return db.stat().st_size, {name: int(size) for name, size in rows}


def bench_hub(
    fleet: Fleet,
    args: argparse.Namespace,
    work: Path,
    settings: dict[str, str] | None = None,
    settle: float = 0.0,
) -> dict[str, Any]:
    """The hub under load; `settings`: more `FLEETWATCH_*` variables for it; `settle`: seconds
    it keeps running after the load (background work catching up)."""
    port = free_port()
    data = work / "hub"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env["FLEETWATCH_RATE_LIMIT_PER_MINUTE"] = "0"
    env.update(settings or {})
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "hub", "--port", str(port)]
    cmd += ["--data-dir", str(data), "--workers", str(args.workers)]
    if args.ingest_workers is not None:
        cmd += ["--ingest-workers", str(args.ingest_workers)]
    data.mkdir(parents=True, exist_ok=True)
    with (data / "hub.log").open("wb") as log:  # a file: a pipe nobody reads would fill up
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/ping", proc)
        auth = []
        for s in range(len(fleet.snapshots)):
            r = httpx.post(f"http://127.0.0.1:{port}/api/register", json={"hostname": f"b{s}"})
            auth.append(f"{r.json()['server_id']}:{r.json()['api_key']}")
        before, _ = sqlite_bytes(data / "fleetwatch.db")
        cpu_before, stolen_before = tree_cpu_seconds(proc.pid), stolen_seconds()
        # --forwarded: as agents behind a reverse proxy, which the lean protocol leaves to
        # uvicorn and the app (`HubApp` then answers the write routes before the middleware)
        extra = "X-Forwarded-For: 10.0.0.1\r\n" if args.forwarded else ""
        requests = hub_requests(fleet, port, auth, extra)
        result = run_load(port, requests, args.connections, args.duration)
        cpu = tree_cpu_seconds(proc.pid) - cpu_before
        stolen = stolen_seconds() - stolen_before
        time.sleep(settle)
    finally:
        stop(proc)
    after, tables = sqlite_bytes(data / "fleetwatch.db")
    samples = result.ok * fleet.numbers_per_payload
    return {
        "load": result,
        "bytes_per_sample": (after - before) / max(samples, 1),
        "tables": tables,
        "cpu_us_per_payload": cpu / max(result.ok, 1) * 1e6,
        "stolen": stolen / args.duration,
    }


def bench_vm(fleet: Fleet, args: argparse.Namespace, work: Path) -> dict[str, Any] | None:
    if not Path(VM_BINARY).exists():
        print(f"(skipping {ANCHOR}: {VM_BINARY} not installed)")
        return None
    port = free_port()
    storage = work / "vm"
    cmd = [VM_BINARY, f"-storageDataPath={storage}", f"-httpListenAddr=127.0.0.1:{port}"]
    cmd += ["-retentionPeriod=100y", "-loggerLevel=ERROR"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        cpu_before, stolen_before = tree_cpu_seconds(proc.pid), stolen_seconds()
        result = run_load(port, vm_requests(fleet, port), args.connections, args.duration)
        cpu = tree_cpu_seconds(proc.pid) - cpu_before
        stolen = stolen_seconds() - stolen_before
        httpx.get(f"http://127.0.0.1:{port}/internal/force_flush", timeout=60)
        time.sleep(2)
    finally:
        stop(proc)
    size = sum(f.stat().st_size for f in storage.rglob("*") if f.is_file())
    samples = result.ok * fleet.numbers_per_payload
    return {
        "load": result,
        "bytes_per_sample": size / max(samples, 1),
        "cpu_us_per_payload": cpu / max(result.ok, 1) * 1e6,
        "stolen": stolen / args.duration,
    }


def stolen_seconds() -> float:
    """CPU time the hypervisor gave other guests (`steal` in /proc/stat), all cores summed:
    a virtual machine's benchmark is comparable only between runs where this stays small."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def report(hub: dict[str, Any], vm: dict[str, Any] | None, fleet: Fleet) -> None:
    h: LoadResult = hub["load"]
    print(
        f"\nsamples per payload: {fleet.numbers_per_payload:.0f}; "
        f"mean hub request {h.body_bytes / max(h.ok, 1) / 1024:.1f} KiB"
    )
    print(f"{'':24}{'fleetwatch hub':>16}{ANCHOR:>18}{'ratio':>8}{'target':>12}")
    v: LoadResult | None = vm["load"] if vm else None

    def line(name: str, mine: float, theirs: float | None, target: str, fmt: str) -> None:
        other = f"{theirs:{fmt}}" if theirs is not None else "-"
        ratio = f"{mine / theirs:.2f}x" if theirs else "-"
        print(f"{name:24}{mine:>16{fmt}}{other:>18}{ratio:>8}{target:>12}")

    line("payloads/s", h.rate, v.rate if v else None, ">= 0.5x", ",.0f")
    line(
        "samples/s",
        h.rate * fleet.numbers_per_payload,
        v.rate * fleet.numbers_per_payload if v else None,
        "",
        ",.0f",
    )
    line(
        "server CPU us/payload",
        hub["cpu_us_per_payload"],
        vm["cpu_us_per_payload"] if vm else None,
        "",
        ",.0f",
    )
    line("p50 latency ms", h.pct(0.5), v.pct(0.5) if v else None, "", ".1f")
    line("p99 latency ms", h.pct(0.99), v.pct(0.99) if v else None, "<= 50", ".1f")
    line(
        "bytes/sample on disk",
        hub["bytes_per_sample"],
        vm["bytes_per_sample"] if vm else None,
        "<= 10",
        ".2f",
    )
    print(f"failed requests: hub {h.failed}, {ANCHOR} {v.failed if v else '-'}")
    print(
        "hub database by table/index (bytes): "
        + ", ".join(f"{k} {n:,}" for k, n in list(hub["tables"].items())[:8])
    )
    stolen = f"hub run {hub['stolen']:.2f}" + (f", {ANCHOR} run {vm['stolen']:.2f}" if vm else "")
    print(f"CPU stolen by the hypervisor, cores per second: {stolen} (of {os.cpu_count()})")
    print("note: the load generator shares the machine's cores with the server under test.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per system")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--servers", type=int, default=200, help="simulated servers")
    parser.add_argument("--variants", type=int, default=20, help="distinct snapshots per server")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between snapshots")
    parser.add_argument("--workers", type=int, default=1, help="hub worker processes")
    parser.add_argument(
        "--ingest-workers", type=int, default=None, help="hub ingest workers (default: the hub's)"
    )
    parser.add_argument("--skip-vm", action="store_true", help=f"do not run {ANCHOR}")
    parser.add_argument(
        "--forwarded", action="store_true", help="agents behind a proxy (X-Forwarded-For)"
    )
    args = parser.parse_args()
    print(f"generating {args.servers} x {args.variants} payloads ...", flush=True)
    fleet = make_fleet(args.servers, args.variants, args.interval)
    work = Path(tempfile.mkdtemp(prefix="fleetwatch-bench-"))
    try:
        print(
            f"hub: {args.connections} connections, {args.duration:.0f} s, "
            f"{args.workers} worker(s) ...",
            flush=True,
        )
        hub = bench_hub(fleet, args, work)
        vm = None
        if not args.skip_vm:
            print(f"{ANCHOR}: same samples, same generator ...", flush=True)
            vm = bench_vm(fleet, args, work)
        report(hub, vm, fleet)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
