"""Agent footprint benchmark: fleetwatch vs node_exporter vs Glances vs bare psutil, one run.

All four run side by side for the same window, collecting every `--interval` (1 s):

- fleetwatch: `fleetwatch agent serve --interval 1` (a full snapshot incl. top-N processes each
  second), its `/metrics` scraped every second as Prometheus would;
- Prometheus node_exporter (Debian `prometheus-node-exporter`) on 127.0.0.1, scraped every second
  (it collects on scrape);
- Glances `-q -t 1 --export csv` with its packaged configuration, update check and public-IP
  lookup off (nothing leaves the host);
- a bare python + psutil loop (`bench/psutil_loop.py`) as the floor for a Python agent.

After `--warmup` seconds, CPU time (utime + stime of each process tree, from /proc/<pid>/stat)
is measured over `--seconds` and reported as % of one core; RSS (VmRSS, sampled twice a
second, plus VmHWM) in MiB. Targets: fleetwatch CPU <= 1.0x node_exporter, <= 0.5x Glances,
RSS <= 25 MiB. Results also go to `bench/results/agent_footprint.json`. Every process started
here is ended by PID when the run ends, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proc_usage import TreeUsage, descendants

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "agent_footprint.json"
NODE_EXPORTER = ("/usr/bin/prometheus-node-exporter", "prometheus-node-exporter", "node_exporter")
TARGETS = {"cpu_vs_node_exporter": 1.0, "cpu_vs_glances": 0.5, "rss_mib": 25.0}


@dataclass
class Contender:
    name: str
    argv: list[str]
    ready_url: str | None = None  # polled until it answers 200
    scrape_url: str | None = None  # fetched every interval during the run
    proc: subprocess.Popen[bytes] | None = None
    usage: TreeUsage | None = None
    skipped: str | None = None
    scrapes: int = 0
    scrape_errors: int = 0
    log_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def glances_config(workdir: Path) -> Path:
    """Glances' packaged config with the update check and public-IP lookup forced off."""
    parser = configparser.RawConfigParser(strict=False)
    shipped = Path(sys.prefix) / "share" / "doc" / "glances" / "glances.conf"
    if shipped.exists():
        parser.read(shipped)
    for section, key, value in (
        ("global", "check_update", "false"),
        ("ip", "public_disabled", "True"),
        ("cloud", "disable", "True"),
    ):
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, key, value)
    path = workdir / "glances.conf"
    with path.open("w") as fh:
        parser.write(fh)
    return path


def contenders(args: argparse.Namespace, workdir: Path) -> list[Contender]:
    fw_port, ne_port = free_port(), free_port()
    fw_url = f"http://127.0.0.1:{fw_port}"
    fleetwatch = [sys.executable, "-m", "fleetwatch.cli.main", "agent", "serve"]
    fleetwatch += ["--interval", str(args.interval), "--listen", f"127.0.0.1:{fw_port}"]
    if args.config:
        fleetwatch += ["--config", args.config]
    result = [
        Contender("fleetwatch", fleetwatch, f"{fw_url}/status/host", f"{fw_url}/metrics"),
    ]
    node_exporter = next((p for p in map(shutil.which, NODE_EXPORTER) if p), None)
    ne = Contender("node_exporter", [])
    if node_exporter:
        ne.argv = [node_exporter, f"--web.listen-address=127.0.0.1:{ne_port}"]
        ne.ready_url = ne.scrape_url = f"http://127.0.0.1:{ne_port}/metrics"
    else:
        ne.skipped = "not installed (apt-get install -y prometheus-node-exporter)"
    result.append(ne)
    gl = Contender("glances", [])
    try:
        import glances  # noqa: F401

        gl.argv = [sys.executable, "-m", "glances", "-C", str(glances_config(workdir)), "-q"]
        gl.argv += ["-t", str(max(1, round(args.interval))), "--disable-check-update"]
        gl.argv += ["--export", "csv", "--export-csv-file", str(workdir / "glances.csv")]
    except ImportError:
        gl.skipped = "not installed (pip install -e '.[bench]')"
    result.append(gl)
    loop = [sys.executable, str(HERE / "psutil_loop.py"), "--interval", str(args.interval)]
    result.append(Contender("python+psutil", loop))
    return result


def start(contender: Contender, workdir: Path) -> None:
    contender.log_path = workdir / f"{contender.name.replace('+', '_')}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with contender.log_path.open("wb") as log:
        contender.proc = subprocess.Popen(
            contender.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    contender.usage = TreeUsage(contender.proc.pid)


def wait_ready(contender: Contender, timeout: float = 60.0) -> None:
    """Until the process answers on its URL (or, without one, simply still runs)."""
    assert contender.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if contender.proc.poll() is not None:
            raise RuntimeError(f"{contender.name} exited early:\n{tail(contender)}")
        if contender.ready_url is None:
            return
        try:
            fetch(contender.ready_url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{contender.name} not ready after {timeout:.0f} s:\n{tail(contender)}")


def tail(contender: Contender, lines: int = 15) -> str:
    if contender.log_path is None or not contender.log_path.exists():
        return ""
    return "\n".join(contender.log_path.read_text(errors="replace").splitlines()[-lines:])


def scrape_loop(targets: list[Contender], interval: float, stop: threading.Event) -> None:
    """Scrape each target every `interval`, like a Prometheus server would."""
    deadline = time.monotonic()
    while not stop.is_set():
        for target in targets:
            assert target.scrape_url is not None
            try:
                fetch(target.scrape_url)
                target.scrapes += 1
            except OSError:
                target.scrape_errors += 1
        deadline += interval
        stop.wait(max(0.0, deadline - time.monotonic()))


def end(contender: Contender) -> None:
    """End the process we started (and any children it left), by PID."""
    proc = contender.proc
    if proc is None or proc.poll() is not None:
        return
    children = descendants(proc.pid)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


def measure(running: list[Contender], args: argparse.Namespace) -> None:
    stop = threading.Event()
    scraped = [c for c in running if c.scrape_url]
    scraper = threading.Thread(target=scrape_loop, args=(scraped, args.interval, stop))
    scraper.start()
    try:
        time.sleep(args.warmup)
        before = collection_stats(running[0])
        now = time.monotonic()
        for c in running:
            assert c.usage is not None
            c.usage.start(now)
        end_at = now + args.seconds
        while time.monotonic() < end_at:
            for c in running:
                assert c.usage is not None and c.proc is not None
                if c.proc.poll() is not None:
                    raise RuntimeError(f"{c.name} died during the run:\n{tail(c)}")
                c.usage.sample()
            time.sleep(min(0.5, max(0.0, end_at - time.monotonic())))
        now = time.monotonic()
        for c in running:
            assert c.usage is not None
            c.usage.stop(now)
        after = collection_stats(running[0])
        if before and after and after[0] > before[0]:
            cycles = after[0] - before[0]
            running[0].extra["collection_cycles"] = cycles
            running[0].extra["collection_avg_ms"] = (after[1] - before[1]) / cycles
    finally:
        stop.set()
        scraper.join()


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value <= target else "MISS"


def report(all_: list[Contender], args: argparse.Namespace) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    window = f"{args.seconds:g} s at {args.interval:g} s after {args.warmup:g} s warm-up"
    print(f"\nAgent footprint: {window}")
    print(f"{'':16}{'CPU % of a core':>17}{'RSS MiB avg':>13}{'RSS MiB max':>13}{'scrapes':>9}")
    for c in all_:
        if c.skipped or c.usage is None:
            print(f"{c.name:16}  skipped: {c.skipped}")
            rows[c.name] = {"skipped": c.skipped}
            continue
        u = c.usage
        scrapes = f"{c.scrapes}" + (f" ({c.scrape_errors} failed)" if c.scrape_errors else "")
        scrapes = scrapes if c.scrape_url else "-"
        print(
            f"{c.name:16}{u.cpu_percent:17.2f}{u.rss_mib_avg:13.1f}{u.rss_mib_max:13.1f}{scrapes:>9}"
        )
        rows[c.name] = {
            "cpu_percent_of_core": round(u.cpu_percent, 3),
            "cpu_seconds": round(u.cpu_seconds, 3),
            "wall_seconds": round(u.wall_seconds, 3),
            "rss_mib_avg": round(u.rss_mib_avg, 2),
            "rss_mib_max": round(u.rss_mib_max, 2),
            "scrapes": c.scrapes,
            "scrape_errors": c.scrape_errors,
            **c.extra,
        }

    def cpu(name: str) -> float | None:
        value = rows.get(name, {}).get("cpu_percent_of_core")
        return float(value) if value is not None else None

    fw_rss = rows.get("fleetwatch", {}).get("rss_mib_max")
    checks = {
        "cpu_vs_node_exporter": ratio(cpu("fleetwatch"), cpu("node_exporter")),
        "cpu_vs_glances": ratio(cpu("fleetwatch"), cpu("glances")),
        "rss_mib": fw_rss,
    }
    labels = {
        "cpu_vs_node_exporter": "fleetwatch CPU / node_exporter CPU",
        "cpu_vs_glances": "fleetwatch CPU / Glances CPU",
        "rss_mib": "fleetwatch RSS max (MiB)",
    }
    print()
    results = {}
    for key, value in checks.items():
        shown = "n/a" if value is None else f"{value:.2f}"
        mark = verdict(value, TARGETS[key])
        print(f"{labels[key]:38}{shown:>8}   target <= {TARGETS[key]:g}   {mark}")
        results[key] = {"value": value, "target": TARGETS[key], "verdict": mark}
    ref = ratio(cpu("fleetwatch"), cpu("python+psutil"))
    if ref is not None:
        print(f"{'fleetwatch CPU / bare python+psutil':38}{ref:>8.2f}   (reference, no target)")
    fw = rows.get("fleetwatch", {})
    if "collection_cycles" in fw:
        print(
            f"fleetwatch ran {fw['collection_cycles']} collections in the window, "
            f"avg {fw.get('collection_avg_ms', 0):.1f} ms each"
        )
    return {
        "seconds": args.seconds,
        "interval_seconds": args.interval,
        "warmup_seconds": args.warmup,
        "cpu_count": os.cpu_count(),
        "processes": rows,
        "targets": results,
        "fleetwatch_vs_psutil_cpu": ref,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def collection_stats(c: Contender) -> tuple[int, float] | None:
    """(cycles, total collection ms) from the agent's own status endpoint."""
    if not c.ready_url or c.name != "fleetwatch":
        return None
    base = c.ready_url.rsplit("/status/", 1)[0]
    try:
        collection = json.loads(fetch(f"{base}/status/collection"))
        return int(collection["cycles"]), float(collection["total_duration_ms"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window (60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring (5)")
    parser.add_argument("--interval", type=float, default=1.0, help="collection interval (1)")
    parser.add_argument("--config", help="agent config file for fleetwatch (default: defaults)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file ({RESULTS})")
    args = parser.parse_args()
    if not Path("/proc/self/stat").exists():
        print("this benchmark reads /proc and runs on Linux only", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fleetwatch-bench-") as tmp:
        workdir = Path(tmp)
        all_ = contenders(args, workdir)
        running = [c for c in all_ if not c.skipped]
        try:
            for c in running:
                start(c, workdir)
            for c in running:
                wait_ready(c)
            print(f"measuring {', '.join(c.name for c in running)} ...", flush=True)
            measure(running, args)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            for c in running:
                end(c)
        data = report(all_, args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
