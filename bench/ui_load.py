"""UI load benchmark (issue 6, "Speed"): the dashboard of a real hub process with 1,000 servers.

1. Start `fleetwatch hub` (SQLite in a temp folder, rate limits off) and load `--servers`
   simulated servers through its public API (`fleetwatch.demo_client.run_demo`: register, then
   two snapshots each, batched).
2. First load, cold cache, in Debian chromium (Playwright): from navigation start to the
   overview's server cards being visible with data (`performance.now()` in the page), and the
   bytes transferred (every HTTP response as sent, gzip included, plus websocket frames; from
   the DevTools protocol's `encodedDataLength` and frame payloads) until the page settles.
3. The fleet reports (every server one snapshot per `--interval` s) for `--seconds` s with no
   dashboard open, then the same with `--dashboards` (10) open, `--rounds` (2) times (A B A B,
   so that drift from other load on the machine falls on both): hub CPU seconds per second of
   each run (hub process and its children; the mean of each kind is compared), ingest
   latency, and hub RSS before / after opening the dashboards. The RSS per dashboard is
   counted from right before they open, after one dashboard was opened and closed (the first
   page after new data warms shared state once: the fleet view, reader connections' caches);
   the growth from the two earlier points (before
   that page, before the first reporting run) is printed too.

Targets: first render <= 1.5 s; first load <= 1 MiB; RSS growth <= 2 MiB per open dashboard;
hub CPU with the dashboards open <= 1.10 x the run without (dashboards may not cost ingest more
than 10 %). The browser and the load generator run on the same cores as the hub: on a shared
2-core machine every figure is noisy; the full run belongs on a quiet machine.

    python bench/ui_load.py                       # full run (about 5 minutes)
    python bench/ui_load.py --servers 200 --seconds 5 --dashboards 3 --rounds 1   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import psutil
from playwright.async_api import Browser, Page, async_playwright

from fleetwatch.demo import make_snapshot
from fleetwatch.demo_client import DemoServer, run_demo

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
RESULTS = Path(__file__).parent / "results"
MIB = 1024 * 1024
CARDS = "document.querySelectorAll('.fw-server-card').length > 0"
RECONNECT_TIMEOUT_SECONDS = 10  # the hub's NiceGUI reconnect_timeout (hub/ui/__init__.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_hub(data_dir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`fleetwatch hub` on a free port; (process, base url, first admin password)."""
    port = free_port()
    log = data_dir / "hub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env["FLEETWATCH_RATE_LIMIT_PER_MINUTE"] = "0"
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "hub", "--port", str(port),
           "--data-dir", str(data_dir)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"hub exited: {log.read_text()}")
        try:
            if httpx.get(base + "/api/ping", timeout=1).status_code == 200:
                found = re.search(r"with password (\S+)", log.read_text())
                if found:
                    return proc, base, found.group(1)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the hub did not start within 60 s")


def usage(proc: psutil.Process) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of the hub and its children."""
    cpu, rss = 0.0, 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return cpu, rss


async def report(base: str, fleet: list[DemoServer], seconds: float, interval: float) -> dict:  # type: ignore[type-arg]
    """Every server posts one snapshot per `interval` s, spread evenly, for `seconds` s."""
    latencies: list[float] = []
    errors = 0
    step = interval / len(fleet)
    start = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(server: DemoServer) -> None:
            nonlocal errors
            body = make_snapshot(server.profile, time.time())
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    "/api/metrics", json=body, headers={"Authorization": server.authorization}
                )
            except httpx.TransportError:  # e.g. a keep-alive connection closed under us
                errors += 1
                return
            latencies.append(time.perf_counter() - t0)
            errors += r.status_code >= 300

        tasks: set[asyncio.Task[None]] = set()
        i = 0
        while (due := start + i * step) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(one(fleet[i % len(fleet)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "posted": len(latencies),
        "errors": errors,
        "per_sec": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


async def login(browser: Browser, base: str, password: str) -> Any:
    context = await browser.new_context(viewport={"width": 1440, "height": 1000})
    page = await context.new_page()
    await page.goto(base + "/login")
    await page.get_by_label("User name").fill("admin")
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_function(CARDS, timeout=60000)
    await page.close()
    return context


async def first_load(context: Any, base: str) -> dict[str, float]:
    """Cold-cache navigation to the overview: render time and bytes on the wire."""
    page: Page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    totals = {"http": 0.0, "ws": 0.0, "responses": 0.0, "ws_deflated": 0.0}
    frames: list[int] = []
    extensions: list[str] = []

    def finished(event: dict[str, Any]) -> None:
        totals["http"] += event.get("encodedDataLength", 0)
        totals["responses"] += 1

    def frame(event: dict[str, Any]) -> None:
        # DevTools shows the payload inflated; with permessage-deflate the wire carries less
        # (estimated by deflating each frame on its own: an upper bound of the real size)
        payload = event.get("response", {}).get("payloadData", "").encode()
        totals["ws"] += len(payload)
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        totals["ws_deflated"] += len(packer.compress(payload) + packer.flush(zlib.Z_SYNC_FLUSH))
        frames.append(len(payload))

    def handshake(event: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in event.get("response", {}).get("headers", {}).items()}
        extensions.append(headers.get("sec-websocket-extensions", ""))

    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.webSocketFrameReceived", frame)
    cdp.on("Network.webSocketFrameSent", frame)
    cdp.on("Network.webSocketHandshakeResponseReceived", handshake)
    await page.goto(base + "/", wait_until="commit")
    handle = await page.wait_for_function(f"() => ({CARDS}) && performance.now()", timeout=60000)
    render_ms = float(await handle.json_value())
    cards = await page.evaluate("document.querySelectorAll('.fw-server-card').length")
    await page.wait_for_timeout(2000)  # let it settle: late assets, socket traffic
    await page.close()
    deflate = any("permessage-deflate" in e for e in extensions)
    return {"render_s": render_ms / 1000, "http_bytes": totals["http"], "ws_bytes": totals["ws"],
            "ws_wire_bytes": totals["ws_deflated"] if deflate else totals["ws"],
            "ws_extensions": extensions, "ws_largest_frames": sorted(frames)[-5:],
            "responses": totals["responses"], "cards": cards}  # fmt: skip


def row(name: str, value: float, target: float, unit: str, fmt: str = ".2f") -> dict[str, Any]:
    ratio = value / target
    verdict = "OK" if ratio <= 1.0 else "OVER"
    print(
        f"{name:<42}{value:>12{fmt}} {unit:<8}{target:>10{fmt}} {unit:<8}{ratio:>7.2f}  {verdict}"
    )
    return {"name": name, "value": value, "target": target, "unit": unit, "ratio": ratio}


async def run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    proc, base, password = start_hub(data_dir)
    hub = psutil.Process(proc.pid)
    try:
        t0 = time.monotonic()
        demo = await asyncio.to_thread(run_demo, base, args.servers, 2, round_interval_seconds=30)
        print(f"loaded {len(demo.servers)} servers in {time.monotonic() - t0:.1f} s", flush=True)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = await login(browser, base, password)
            load = await first_load(context, base)
            await asyncio.sleep(2)
            _, rss_before = usage(hub)

            async def reporting() -> tuple[float, dict[str, Any]]:
                """(hub CPU s/s, ingest figures) of one reporting run."""
                cpu0, t0 = usage(hub)[0], time.monotonic()
                figures = await report(base, demo.servers, args.seconds, args.interval)
                return (usage(hub)[0] - cpu0) / (time.monotonic() - t0), figures

            async def open_pages() -> list[Page]:
                pages = []
                for _ in range(args.dashboards):
                    page = await context.new_page()
                    await page.goto(base + "/")
                    await page.wait_for_function(CARDS, timeout=60000)
                    pages.append(page)
                await asyncio.sleep(3)
                return pages

            runs: list[tuple[str, float, dict[str, Any]]] = []
            cpu, figures = await reporting()
            runs.append(("none", cpu, figures))
            # one dashboard opened and closed (its client deleted after NiceGUI's reconnect
            # timeout): what the first page after new data warms once for every later one
            # (the shared fleet view, reader connections' caches) is not counted per dashboard
            _, rss_reported = usage(hub)
            warm = await context.new_page()
            await warm.goto(base + "/")
            await warm.wait_for_function(CARDS, timeout=60000)
            await warm.close()
            await asyncio.sleep(RECONNECT_TIMEOUT_SECONDS + 3)
            _, rss_none = usage(hub)  # after the same reporting, before the dashboards open
            pages = await open_pages()
            _, rss_open = usage(hub)
            for round_ in range(args.rounds):
                if round_:  # later rounds: none open, then open again (A B A B: less drift)
                    for page in pages:
                        await page.close()
                    await asyncio.sleep(RECONNECT_TIMEOUT_SECONDS + 3)
                    cpu, figures = await reporting()
                    runs.append(("none", cpu, figures))
                    pages = await open_pages()
                cpu, figures = await reporting()
                runs.append(("open", cpu, figures))
            _, rss_after = usage(hub)
            none_runs = [r for r in runs if r[0] == "none"]
            open_runs = [r for r in runs if r[0] == "open"]
            cpu_none = statistics.fmean(r[1] for r in none_runs)
            cpu_open = statistics.fmean(r[1] for r in open_runs)
            none_open, with_open = none_runs[-1][2], open_runs[-1][2]
            await browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"load": load, "runs": runs, "rss_before": rss_before, "rss_reported": rss_reported,
            "rss_none": rss_none, "rss_open": rss_open,
            "rss_after": rss_after,
            "cpu_none": cpu_none, "cpu_open": cpu_open, "none_open": none_open,
            "with_open": with_open}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--dashboards", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=40.0, help="each reporting run")
    parser.add_argument("--interval", type=float, default=10.0, help="s between snapshots")
    parser.add_argument(
        "--rounds", type=int, default=2, help="reporting rounds, each none open then open"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-ui-bench-") as tmp:
        r = asyncio.run(run(args, Path(tmp)))
    load = r["load"]
    # growth from the RSS right before opening them (after the run without dashboards and one
    # dashboard opened and closed), so that what that reporting run grows (caches, SQLite
    # pages) and one-off warm-up are not counted per dashboard; the two other baselines too
    per_dashboard = (r["rss_open"] - r["rss_none"]) / args.dashboards / MIB
    since_reported = (r["rss_open"] - r["rss_reported"]) / args.dashboards / MIB
    since_start = (r["rss_open"] - r["rss_before"]) / args.dashboards / MIB
    print(
        f"\nservers={args.servers} dashboards={args.dashboards} reporting={args.seconds:g} s"
        f" (1 snapshot / server / {args.interval:g} s); shared machine: figures are noisy"
    )
    print(f"{'figure':<42}{'value':>21}{'target':>18}{'ratio':>9}")
    rows = [
        row("first meaningful render (overview)", load["render_s"], 1.5, "s"),
        row(
            "bytes on first load (HTTP + websocket)",
            (load["http_bytes"] + load["ws_wire_bytes"]) / 1024,
            1024.0,
            "KiB",
            ".0f",
        ),
        row("hub RSS growth per open dashboard", per_dashboard, 2.0, "MiB"),
        row("hub CPU, dashboards open / none", r["cpu_open"] / r["cpu_none"], 1.10, "x"),
    ]
    ws = f"{load['ws_bytes'] / 1024:.0f} KiB inflated"
    ws += f" ({load['ws_wire_bytes'] / 1024:.0f} KiB on the wire, estimated)"
    print(
        f"  first load: {load['responses']:.0f} HTTP responses "
        f"{load['http_bytes'] / 1024:.0f} KiB + websocket {ws}"
        f" (extensions: {load['ws_extensions'] or 'none'}); {load['cards']} cards shown"
    )
    print(f"  hub RSS {r['rss_before'] / MIB:.1f} MiB before reporting, "
          f"{r['rss_reported'] / MIB:.1f} MiB after reporting with none open, "
          f"{r['rss_none'] / MIB:.1f} MiB after one dashboard opened and closed -> "
          f"{r['rss_open'] / MIB:.1f} MiB with {args.dashboards} open "
          f"({r['rss_after'] / MIB:.1f} MiB after reporting)")  # fmt: skip
    print(f"  per dashboard counted from before the warm-up page: {since_reported:.2f} MiB; "
          f"from before the first reporting run: {since_start:.2f} MiB")  # fmt: skip
    for name, cpu, run_ in r["runs"]:
        print(f"  reporting, dashboards {name:<5}: hub CPU {cpu:.3f} s/s, {run_['per_sec']:.0f} "
              f"payloads/s, p50 {run_['p50_ms']:.1f} ms, p99 {run_['p99_ms']:.1f} ms, "
              f"{run_['errors']} errors")  # fmt: skip
    print(f"  hub CPU, mean of the runs: none open {r['cpu_none']:.3f} s/s, "
          f"{args.dashboards} open {r['cpu_open']:.3f} s/s")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "ui_load.json"
    out.write_text(json.dumps({"args": vars(args), "machine": platform.node(),
                               "cpus": os.cpu_count(), "when": time.time(), "figures": rows,
                               "raw": r}, indent=2))  # fmt: skip
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
