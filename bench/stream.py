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
import base64
import contextlib
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
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from payloads import SimulatedServer

#: the light clients' SO_RCVBUF: a latency-minded client's choice (Linux autotunes loopback
#: buffers to megabytes, which a reader slower than the stream fills with old messages)
RECEIVE_BUFFER = 64 * 1024
STAMP = re.compile(rb'"timestamp":"([^"]+)"')
ANCHOR = "seed 004 design (websockets broadcast, 50-semaphore, 1 s send timeout)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_hub(
    data_dir: Path, *extra: str, **settings: str
) -> tuple[subprocess.Popen[bytes], str, str]:
    """`fleetwatch hub` on a free port (`extra`: more arguments, `settings`: more environment
    variables): (process, URL, admin token)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env["FLEETWATCH_RATE_LIMIT_PER_MINUTE"] = "0"
    env.update(settings)
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "hub", "--port", str(port),
           "--data-dir", str(data_dir), *extra]  # fmt: skip
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


async def _post(reader: Any, writer: Any, request: bytes) -> int:
    """One HTTP/1.1 request on a keep-alive connection; the status code."""
    writer.write(request)
    status = int((await reader.readline()).split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def feed(base: str, servers: int, seconds: float, connections: int = 32) -> dict[str, float]:
    """Every server posts one snapshot per second, spread evenly, over `connections` raw
    keep-alive connections (httpx's pool degrades badly once requests queue, and the agents
    it stands for are other machines); payloads/s acknowledged, and each one's round trip."""
    rng = random.Random(7)
    sims = [SimulatedServer(i, rng) for i in range(servers)]
    host, port = base.removeprefix("http://").split(":")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        auth = []
        for sim in sims:
            body = (await http.post("/api/register", json={"hostname": sim.hostname})).json()
            auth.append(f"{body['server_id']}:{body['api_key']}")
    due: asyncio.Queue[int] = asyncio.Queue()
    took: list[float] = []
    done = 0
    start = time.monotonic()

    async def connection() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while True:
                i = await due.get()
                sent = time.monotonic()
                snap = sims[i].snapshot(time.time())
                snap["snapshot_id"] = uuid.uuid4().hex
                snap["collected_at"] = datetime.now(UTC).isoformat()
                body = orjson.dumps(snap)
                head = (f"POST /api/metrics HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        f"Authorization: Bearer {auth[i]}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
                status = await _post(reader, writer, head + body)
                done += status == 200  # (not `done += await ...`: that reads `done` first)
                took.append(time.monotonic() - sent)
                due.task_done()
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    step, n = 1.0 / servers, 0
    while (now := time.monotonic() - start) < seconds:
        if n * step <= now:
            due.put_nowait(n % servers)
            n += 1
        else:
            await asyncio.sleep(min(step, n * step - now))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(due.join(), 60)
    elapsed = time.monotonic() - start
    for w in workers:
        w.cancel()
    q = statistics.quantiles(took, n=100) if len(took) > 2 else [float("nan")] * 99
    return {"payloads_per_s": done / elapsed, "offered_per_s": n / elapsed,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}  # fmt: skip


class LightClient(asyncio.Protocol):
    """A minimal RFC 6455 client: the handshake, then server frames counted as they arrive
    (every 20th message's `timestamp` read for latency); no extensions offered, so both
    servers send plain frames. Light, so that the clients (which share the servers' cores)
    measure the server rather than themselves."""

    def __init__(self, stats: dict[str, Any], request: bytes) -> None:
        self.stats, self.request = stats, request
        self.buf = bytearray()
        self.open = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.last = 0.0  # monotonic time of the last message

    def connection_made(self, transport: Any) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(bytes(buf[:80])))
                return
            self.open, pos = True, end + 4
            self.ready.set_result(None)
        stats, size_of = self.stats, len(buf)
        while pos + 2 <= size_of:
            size, head = buf[pos + 1] & 0x7F, 2
            if size == 126:
                if pos + 4 > size_of:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 4]), 4
            elif size == 127:
                if pos + 10 > size_of:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 10]), 10
            if pos + head + size > size_of:
                break
            if buf[pos] & 0x0F == 1:
                stats["received"] += 1
                self.last = time.monotonic()
                if stats["received"] % 20 == 0:
                    found = STAMP.search(buf, pos + head, pos + head + 200)
                    if found:
                        sent = datetime.fromisoformat(found.group(1).decode())
                        stats["latencies"].append(time.time() - sent.timestamp())
            pos += head + size
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats["closed"] += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed during the handshake"))


async def _light(url: str, token: str, stats: dict[str, Any]) -> LightClient:
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    path = "/" + url.removeprefix("ws://").partition("/")[2]
    key = base64.b64encode(os.urandom(16)).decode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n{auth}\r\n").encode()  # fmt: skip
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, int(port)))
    _, client = await loop.create_connection(lambda: LightClient(stats, request), sock=sock)
    await asyncio.wait_for(client.ready, 60)
    return client


def client_proc(url: str, token: str, count: int, seconds: float, kind: str, out: Any) -> None:
    """`count` clients that read everything; report messages, latencies, closures and the
    clients that got nothing in the run's last 2 s (a server may drop them silently).

    At nice 10: stream clients are other machines in a deployment; here they share the two
    cores with the server under test and its agents, so they get the CPU those leave."""
    os.nice(10)

    async def main() -> dict[str, Any]:
        stats: dict[str, Any] = {"received": 0, "closed": 0, "latencies": []}
        if kind == "light":
            clients = [await _light(url, token, stats) for _ in range(count)]
        else:
            clients = await _library_clients(url, token, count, stats)
        out.put({"ready": True})
        start_count, t0 = stats["received"], time.monotonic()
        await asyncio.sleep(seconds)
        end = time.monotonic()
        rate = (stats["received"] - start_count) / (end - t0)
        starved = sum(1 for c in clients if end - c.last > 2.0)
        return {"messages_per_s": rate, "latencies": stats["latencies"],
                "closed": stats["closed"], "starved": starved}  # fmt: skip

    out.put(asyncio.run(main()))


async def _library_clients(url: str, token: str, count: int, stats: dict[str, Any]) -> list[Any]:
    """`--client websockets`: the `websockets` library's client (heavier: it decodes UTF-8 and
    keeps its own queue), as real scripts use it."""
    import websockets

    class Tracked:
        last = 0.0
        task: asyncio.Task[None] | None = None

    ready = asyncio.Event()
    tracked = [Tracked() for _ in range(count)]
    connected = 0

    async def one(mine: Tracked) -> None:
        nonlocal connected
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with websockets.connect(url, additional_headers=headers, compression=None,
                                          max_size=2**24, open_timeout=60) as ws:  # fmt: skip
                connected += 1
                if connected == count:
                    ready.set()
                async for raw in ws:
                    stats["received"] += 1
                    mine.last = time.monotonic()
                    if stats["received"] % 20 == 0:
                        data = raw if isinstance(raw, bytes) else raw.encode()
                        found = STAMP.search(data, 0, 200)
                        if found:
                            sent = datetime.fromisoformat(found.group(1).decode())
                            stats["latencies"].append(time.time() - sent.timestamp())
        except Exception:
            stats["closed"] += 1

    for mine in tracked:
        mine.task = asyncio.create_task(one(mine))
    await asyncio.wait_for(ready.wait(), 120)
    return tracked


def run_clients(url: str, token: str, clients: int, procs: int, seconds: float, kind: str) -> Any:
    queue: Any = multiprocessing.Queue()
    per = [clients // procs + (i < clients % procs) for i in range(procs)]
    workers = [multiprocessing.Process(target=client_proc,
                                       args=(url, token, n, seconds, kind, queue))
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
            "dropped": sum(r["closed"] for r in results),
            "starved": sum(r["starved"] for r in results)}  # fmt: skip


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
    ap.add_argument(
        "--client",
        choices=("light", "websockets"),
        default="light",
        help="the clients: a minimal RFC 6455 reader, or the websockets library",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-stream-") as tmp:
        proc, base, token = start_hub(Path(tmp))
        try:
            asyncio.run(feed(base, args.servers, 3.0))  # warm-up (workers, caches)
            alone = asyncio.run(feed(base, args.servers, args.seconds))
            rss_before = rss(proc.pid)
            ws_url = base.replace("http://", "ws://") + "/ws"
            workers, queue = run_clients(ws_url, token, args.clients, args.client_procs,
                                         args.seconds, args.client)  # fmt: skip
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
    workers, queue = run_clients(f"ws://127.0.0.1:{port}/", "", args.clients,
                                 args.client_procs, args.seconds, args.client)  # fmt: skip
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
    for label, run in (("0 clients", alone), ("with clients", loaded)):
        print(f"{'ingest p50/p99 ms, ' + label:34}{run['p50_ms']:>7.0f}/{run['p99_ms']:<6.0f}")
    print(f"{'messages/s delivered':34}{fw['messages_per_s']:>14.0f}"
          f"{anchor['messages_per_s']:>14.0f}{mps:>8.2f}x  (goal >= 1.0x)")  # fmt: skip
    print(f"{'latency p50, ms':34}{fw['p50_ms']:>14.1f}{anchor['p50_ms']:>14.1f}")
    print(f"{'latency p99, ms':34}{fw['p99_ms']:>14.1f}{anchor['p99_ms']:>14.1f}"
          "  (goal p99 <= 250 ms)")  # fmt: skip
    print(f"{'clients closed by the server':34}{fw['dropped']:>14}{anchor['dropped']:>14}")
    print(f"{'clients served nothing (last 2 s)':34}{fw['starved']:>14}{anchor['starved']:>14}")
    print(f"{'hub RSS per client, KiB':34}{rss_per_client / 1024:>14.1f}{'':>23}(goal <= 50)")
    print(f"anchor: {ANCHOR}")


if __name__ == "__main__":
    main()
