"""Scrape benchmark (`make bench-hub`, issue 19): the hub's `GET /metrics` for a fleet, beside
node_exporter's scrape of this one host, in one run.

1. `fleetwatch hub` (SQLite, defaults); `--servers` simulated servers register and post one
   ~5 KB snapshot each; then `--scrapes` scrapes of `/metrics` with an API token, one after
   the other: the first (every server encoded), the median of all (servers whose snapshot did
   not change are cached encoded), bytes on the wire (gzip, as Prometheus asks) and of text.
2. node_exporter (Debian `prometheus-node-exporter`, on a free loopback port, default
   collectors) scraped the same number of times.

Goal (issue 19): a scrape of 1,000 servers in <= 250 ms and <= 5 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from payloads import SimulatedServer
from stream import free_port, start_hub

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")


async def populate(base: str, servers: int) -> None:
    import random

    rng = random.Random(11)
    sims = [SimulatedServer(i, rng) for i in range(servers)]
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        semaphore = asyncio.Semaphore(16)

        async def one(sim: SimulatedServer) -> None:
            async with semaphore:
                reg = (await http.post("/api/register", json={"hostname": sim.hostname})).json()
                snap = sim.snapshot(time.time())
                snap["snapshot_id"] = uuid.uuid4().hex
                snap["collected_at"] = datetime.now(UTC).isoformat()
                auth = {"Authorization": f"Bearer {reg['server_id']}:{reg['api_key']}"}
                r = await http.post("/api/metrics", json=snap, headers=auth)
                assert r.status_code == 200, r.text

        await asyncio.gather(*(one(sim) for sim in sims))


def scrape(url: str, count: int, headers: dict[str, str]) -> tuple[list[float], int, int, int]:
    """Seconds per scrape, and of the last one: bytes on the wire (gzip, as Prometheus asks
    for it), bytes of text, series."""
    times, size, raw, series = [], 0, 0, 0
    with httpx.Client(timeout=60) as http:
        for _ in range(count):
            started = time.perf_counter()
            r = http.get(url, headers=headers)
            times.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text[:200]
            size, raw = r.num_bytes_downloaded, len(r.content)
            series = sum(1 for line in r.text.splitlines() if line and line[0] != "#")
    return times, size, raw, series


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-prom-") as tmp:
        proc, base, token = start_hub(Path(tmp))
        try:
            asyncio.run(populate(base, args.servers))
            auth = {"Authorization": f"Bearer {token}"}
            hub = scrape(base + "/metrics", args.scrapes, auth)
        finally:
            proc.terminate()
            proc.wait(30)
    node = None
    if NODE_EXPORTER:
        port = free_port()
        exporter = subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            node = scrape(f"http://127.0.0.1:{port}/metrics", args.scrapes, {})
        finally:
            exporter.terminate()
            exporter.wait(10)

    def row(label: str, fw: str, ne: str, goal: str = "") -> None:
        print(f"{label:28}{fw:>18}{ne:>22}  {goal}")

    print(f"/metrics: the hub with {args.servers} servers, {args.scrapes} scrapes each")
    row("", "fleetwatch hub", "node_exporter (1 host)")
    p50 = statistics.median(hub[0]) * 1000
    node_p50 = f"{statistics.median(node[0]) * 1000:.1f}" if node else "-"
    row("scrape p50 ms (warm)", f"{p50:.1f}", node_p50, "(goal <= 250 ms)")
    row(
        "first scrape ms (cold)",
        f"{hub[0][0] * 1000:.1f}",
        f"{node[0][0] * 1000:.1f}" if node else "-",
    )
    wire = f"{node[1] / 2**20:.2f}" if node else "-"
    row("MiB on the wire (gzip)", f"{hub[1] / 2**20:.2f}", wire,
        "(goal <= 5 MiB)")  # fmt: skip
    row("MiB of text", f"{hub[2] / 2**20:.2f}", f"{node[2] / 2**20:.2f}" if node else "-")
    row("series", f"{hub[3]:,}", f"{node[3]:,}" if node else "-")
    if node:
        print(f"ratio: the hub's scrape of {args.servers} servers takes "
              f"{statistics.median(hub[0]) / statistics.median(node[0]):.1f}x node_exporter's "
              "of one host")  # fmt: skip


if __name__ == "__main__":
    main()
