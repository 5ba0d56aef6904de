"""Stream benchmark (`make bench-hub`, issue 18): `/ws` fan-out against seed 004's design.

1. `fleetwatch hub` (SQLite, defaults, rate limits off); `--servers` simulated servers post a
   ~5 KB snapshot each every second for `--seconds` s with no stream client: payloads/s.
2. The same with `--clients` WebSocket clients subscribed to everything (spread over
   `--client-procs` processes): payloads/s, messages/s delivered, latency from the snapshot's
   `collected_at` (set when it is sent, so ingest is included) to the client, p50/p99, hub RSS
   per client, clients dropped as slow.
3. The anchor: seed 004's server design, written here: a plain `websockets` server that
   broadcasts each message to every client through a 50-permit semaphore with a 1 s send
   timeout, fed the same message size at the same rate, to the same clients.

Goals: ingest with clients >= 0.9x without; p99 <= 250 ms; RSS per client <= 50 KiB;
fleetwatch's messages/s >= 1.0x the anchor's. Clients, feeder and servers share the machine's
cores, so absolute figures are lower than a hub alone would reach; both designs pay that tax.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from payloads import SimulatedServer

STAMP = re.compile(rb'"timestamp":"([^"]+)"')
ANCHOR = "seed 004 design (websockets broadcast, 50-semaphore, 1 s send timeout)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_hub(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env["FLEETWATCH_RATE_LIMIT_PER_MINUTE"] = "0"
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "hub", "--port", str(port),
           "--data-dir", str(data_dir)]  # fmt: skip
    with (data_dir / "hub.log").open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/ping", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    token = subprocess.run(
        [sys.executable, "-m", "fleetwatch.cli.main", "user", "token", "admin",
         "--data-dir", str(data_dir)], capture_output=True, text=True, check=True, env=env,
    ).stdout.strip()  # fmt: skip
    return proc, base, token


async def feed(base: str, servers: int, seconds: float) -> dict[str, float]:
    """Every server posts one snapshot per second, spread evenly; payloads/s acknowledged."""
    rng = random.Random(7)
    sims = [SimulatedServer(i, rng) for i in range(servers)]
    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 limits=httpx.Limits(max_connections=64)) as http:  # fmt: skip
        keys = []
        for sim in sims:
            r = await http.post("/api/register", json={"hostname": sim.hostname})
            body = r.json()
            keys.append({"Authorization": f"Bearer {body['server_id']}:{body['api_key']}"})
        done, start = 0, time.monotonic()

        async def one(i: int) -> None:
            nonlocal done
            snap = sims[i].snapshot(time.time())
            snap["snapshot_id"] = uuid.uuid4().hex
            snap["collected_at"] = datetime.now(UTC).isoformat()
            r = await http.post("/api/metrics", json=snap, headers=keys[i])
            done += r.status_code == 200

        tasks, step, n = [], 1.0 / servers, 0
        while (now := time.monotonic() - start) < seconds:
            if n * step <= now:
                tasks.append(asyncio.create_task(one(n % servers)))
                n += 1
            else:
                await asyncio.sleep(min(step, n * step - now))
        await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.monotonic() - start
    return {"payloads_per_s": done / elapsed, "offered_per_s": n / elapsed}


def client_proc(url: str, token: str, count: int, seconds: float, out: Any) -> None:
    """`count` clients that read everything; report messages, latencies and closures."""
    import websockets

    async def main() -> dict[str, Any]:
        latencies: list[float] = []
        received = closed = 0
        ready = asyncio.Event()
        connected = 0

        async def one() -> None:
            nonlocal received, closed, connected
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                async with websockets.connect(url, additional_headers=headers,
                                              max_size=2**24, open_timeout=60) as ws:  # fmt: skip
                    connected += 1
                    if connected == count:
                        ready.set()
                    async for raw in ws:
                        received += 1
                        if received % 20 == 0:
                            data = raw if isinstance(raw, bytes) else raw.encode()
                            found = STAMP.search(data)
                            if found:
                                sent = datetime.fromisoformat(found.group(1).decode())
                                latencies.append(time.time() - sent.timestamp())
            except Exception:
                closed += 1

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        await asyncio.wait_for(ready.wait(), 120)
        out.put({"ready": True})
        start_count, t0 = received, time.monotonic()
        await asyncio.sleep(seconds)
        rate = (received - start_count) / (time.monotonic() - t0)
        for t in tasks:
            t.cancel()
        return {"messages_per_s": rate, "latencies": latencies, "closed": closed}

    out.put(asyncio.run(main()))


def run_clients(url: str, token: str, clients: int, procs: int, seconds: float) -> Any:
    queue: Any = multiprocessing.Queue()
    per = [clients // procs + (i < clients % procs) for i in range(procs)]
    workers = [multiprocessing.Process(target=client_proc, args=(url, token, n, seconds, queue))
               for n in per]  # fmt: skip
    for w in workers:
        w.start()
    for _ in workers:
        assert queue.get(timeout=180)["ready"]
    return workers, queue


def collect(workers: list[Any], queue: Any) -> dict[str, Any]:
    results = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(10)
    lat = sorted(x for r in results for x in r["latencies"])
    q = statistics.quantiles(lat, n=100) if len(lat) > 2 else [float("nan")] * 99
    return {"messages_per_s": sum(r["messages_per_s"] for r in results),
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "dropped": sum(r["closed"] for r in results)}  # fmt: skip


def anchor_server(port: int, rate: float, message: str, seconds: float) -> None:
    """Seed 004's broadcast: every message to every client, 50 sends at a time, 1 s timeout."""
    import websockets

    clients: set[Any] = set()
    semaphore = asyncio.Semaphore(50)

    async def handler(ws: Any) -> None:
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async def send(ws: Any, text: str) -> None:
        async with semaphore:
            try:
                await asyncio.wait_for(ws.send(text), 1.0)
            except Exception:
                clients.discard(ws)

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", port, max_size=2**24):
            start, wall, n = time.monotonic(), time.time(), 0
            while time.monotonic() - start < seconds:
                # stamped when the data exists (its slot in the schedule), as fleetwatch's
                # messages carry their snapshot's collected_at: falling behind counts
                due = datetime.fromtimestamp(wall + n / rate, UTC).isoformat()
                stamped = message.replace("@STAMP@", due)
                await asyncio.gather(*(send(ws, stamped) for ws in list(clients)))
                n += 1
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))

    asyncio.run(main())


def anchor_message() -> str:
    """A message of exactly the size fleetwatch sends for a simulated server's snapshot."""
    from fleetwatch.hub.stream.messages import FAMILIES, monitoring_data
    from fleetwatch.protocol.models import Snapshot

    snap = SimulatedServer(0, random.Random(7)).snapshot(time.time())
    snap["snapshot_id"], snap["collected_at"] = "x", datetime.now(UTC).isoformat()
    doc = Snapshot.model_validate(snap).model_dump(mode="json")
    text = monitoring_data("0" * 36, 0.0, doc, FAMILIES)
    return re.sub(r'"timestamp":"[^"]+"', '"timestamp":"@STAMP@"', text, count=1)


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--servers", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--client-procs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-stream-") as tmp:
        proc, base, token = start_hub(Path(tmp))
        try:
            alone = asyncio.run(feed(base, args.servers, args.seconds))
            rss_before = rss(proc.pid)
            ws_url = base.replace("http://", "ws://") + "/ws"
            workers, queue = run_clients(ws_url, token, args.clients, args.client_procs,
                                         args.seconds)  # fmt: skip
            rss_per_client = (rss(proc.pid) - rss_before) / args.clients
            loaded = asyncio.run(feed(base, args.servers, args.seconds))
            fw = collect(workers, queue)
        finally:
            proc.terminate()
            proc.wait(30)
    message = anchor_message()
    port = free_port()
    server = multiprocessing.Process(
        target=anchor_server, args=(port, args.servers, message, args.seconds * 3 + 60)
    )
    server.start()
    time.sleep(1.0)
    workers, queue = run_clients(f"ws://127.0.0.1:{port}", "", args.clients, args.client_procs,
                                 args.seconds)  # fmt: skip
    anchor = collect(workers, queue)
    server.terminate()

    print(f"stream: {args.clients} clients subscribed to everything, {args.servers} servers at 1 s,"
          f" {args.seconds:g} s per run")  # fmt: skip
    print(f"{'':34}{'fleetwatch':>14}{'anchor':>14}{'ratio':>9}")
    ingest_ratio = loaded["payloads_per_s"] / alone["payloads_per_s"]
    print(f"{'ingest payloads/s, 0 clients':34}{alone['payloads_per_s']:>14.1f}")
    print(f"{'ingest payloads/s, with clients':34}{loaded['payloads_per_s']:>14.1f}{'':>14}"
          f"{ingest_ratio:>8.2f}x  (goal >= 0.9x)")  # fmt: skip
    mps = fw["messages_per_s"] / max(anchor["messages_per_s"], 1e-9)
    print(f"{'messages/s delivered':34}{fw['messages_per_s']:>14.0f}"
          f"{anchor['messages_per_s']:>14.0f}{mps:>8.2f}x  (goal >= 1.0x)")  # fmt: skip
    print(f"{'latency p50, ms':34}{fw['p50_ms']:>14.1f}{anchor['p50_ms']:>14.1f}")
    print(f"{'latency p99, ms':34}{fw['p99_ms']:>14.1f}{anchor['p99_ms']:>14.1f}"
          "  (goal p99 <= 250 ms)")  # fmt: skip
    print(f"{'clients dropped':34}{fw['dropped']:>14}{anchor['dropped']:>14}")
    print(f"{'hub RSS per client, KiB':34}{rss_per_client / 1024:>14.1f}{'':>23}(goal <= 50)")
    print(f"anchor: {ANCHOR}")


if __name__ == "__main__":
    main()
