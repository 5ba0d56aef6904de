"""Agent runtime benchmark: the running daemon (`fleetwatch agent run`, transport included).

Three phases, each against a real local hub (`fleetwatch hub`, SQLite in a temp folder, rate
limit off so that only the agent is measured):

- **daemon** — the daemon snapshotting every second (live off) beside node_exporter, Glances and
  a bare psutil loop (the contenders and measurement of `bench/agent_footprint.py`), over
  `--seconds`. Targets as issue 2: CPU ≤ 1.0× node_exporter, ≤ 0.5× Glances, RSS ≤ 25 MiB.
  Also: bytes on the wire per snapshot (gzip, as one batch of one and inside a 100-batch).
- **idle** — the daemon at its default settings (10-minute snapshots, live off) alone, CPU over
  `--idle-seconds` (default 600 = 10 min). Target ≤ 0.05 % of a core.
- **replay** — `--replay-count` snapshots (a real snapshot, distinct ids) put in the durable
  buffer, then the daemon started: snapshots stored per second, first to last. Target ≥ 1,000/s.

CPU is utime + stime of the daemon's process tree from /proc (`bench/proc_usage.py`); the hub's
own CPU is not counted. Every process started here is ended by PID, also on error or Ctrl-C.
Results: `bench/results/agent_runtime.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agent_footprint as fp

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "agent_runtime.json"
IDLE_TARGET_PERCENT = 0.05
REPLAY_TARGET_PER_SECOND = 1000.0


def fleetwatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "fleetwatch.cli.main", *args]


@contextlib.contextmanager
def local_hub(workdir: Path) -> Iterator[str]:
    """A `fleetwatch hub` on a free port; yields its URL; ended by PID afterwards."""
    port = fp.free_port()
    data = workdir / "hub"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env["FLEETWATCH_RATE_LIMIT_PER_MINUTE"] = "0"
    log = (workdir / "hub.log").open("wb")
    cmd = fleetwatch("hub", "--port", str(port), "--data-dir", str(data))
    hub = fp.Contender("hub", cmd, f"http://127.0.0.1:{port}/api/ping")
    hub.log_path = workdir / "hub.log"
    hub.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    try:
        fp.wait_ready(hub)
        yield f"http://127.0.0.1:{port}"
    finally:
        fp.end(hub)


def hub_rows(workdir: Path) -> int:
    conn = sqlite3.connect(workdir / "hub" / "fleetwatch.db", timeout=30)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])
    finally:
        conn.close()


def register(hub_url: str) -> dict[str, str]:
    body = json.dumps({"hostname": "bench-replay"}).encode()
    req = urllib.request.Request(
        f"{hub_url}/api/register", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        data: dict[str, str] = json.load(resp)
    return {"server_id": data["server_id"], "api_key": data["api_key"]}


def write_config(path: Path, **values: Any) -> Path:
    path.write_text(json.dumps(values, indent=2) + "\n")
    return path


def wait_enrolled(config: Path, agent: fp.Contender, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if json.loads(config.read_text()).get("server_id"):
            return
        if agent.proc is not None and agent.proc.poll() is not None:
            raise RuntimeError(f"the agent exited:\n{fp.tail(agent)}")
        time.sleep(0.1)
    raise RuntimeError(f"the agent did not register within {timeout:.0f} s:\n{fp.tail(agent)}")


def wire_bytes() -> dict[str, float]:
    """JSON and gzip sizes of a real snapshot of this host, as the transport sends it."""
    from fleetwatch.agent.snapshot import SnapshotCollector
    from fleetwatch.protocol.agent_config import validate

    collector = SnapshotCollector(validate({}))
    collector.prime()
    time.sleep(1)
    body = json.dumps(collector.collect(), separators=(",", ":")).encode()
    one = gzip.compress(b'{"snapshots":[' + body + b"]}", 6)
    batch = gzip.compress(b'{"snapshots":[' + b",".join([body] * 100) + b"]}", 6)
    return {
        "json_bytes": len(body),
        "gzip_bytes_single": len(one),
        "gzip_bytes_per_snapshot_in_100_batch": round(len(batch) / 100, 1),
    }


def phase_daemon(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with local_hub(workdir) as hub_url:
        config = write_config(
            workdir / "agent-1s.json",
            dashboard_url=hub_url,
            collection_interval_seconds=1,
            log_file="",
        )
        agent = fp.Contender("fleetwatch", fleetwatch("agent", "run", "--config", str(config)))
        others = fp.contenders(args, workdir)[1:]  # node_exporter, glances, python+psutil
        all_ = [agent, *others]
        running = [c for c in all_ if not c.skipped]
        try:
            for c in running:
                fp.start(c, workdir)
            wait_enrolled(config, agent)
            for c in running[1:]:
                fp.wait_ready(c)
            print(f"daemon phase: measuring {', '.join(c.name for c in running)} ...", flush=True)
            rows_before = hub_rows(workdir)
            fp.measure(running, args)
            delivered = hub_rows(workdir) - rows_before
        finally:
            for c in running:
                fp.end(c)
    data = fp.report(all_, args)
    data["snapshots_delivered_in_window"] = delivered
    data["wire"] = wire_bytes()
    w = data["wire"]
    print(
        f"bytes on the wire per snapshot: {w['json_bytes']} JSON -> {w['gzip_bytes_single']} "
        f"gzip alone, {w['gzip_bytes_per_snapshot_in_100_batch']} in a 100-batch; "
        f"{delivered} snapshots delivered in the window"
    )
    return data


def phase_idle(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with local_hub(workdir) as hub_url:
        config = write_config(workdir / "agent-default.json", dashboard_url=hub_url, log_file="")
        agent = fp.Contender("fleetwatch", fleetwatch("agent", "run", "--config", str(config)))
        try:
            fp.start(agent, workdir)
            wait_enrolled(config, agent)
            print(f"idle phase: default settings, measuring {args.idle_seconds:g} s ...")
            time.sleep(args.warmup)
            assert agent.usage is not None
            agent.usage.start(time.monotonic())
            end_at = time.monotonic() + args.idle_seconds
            while time.monotonic() < end_at:
                agent.usage.sample()
                time.sleep(min(5.0, max(0.0, end_at - time.monotonic())))
            agent.usage.stop(time.monotonic())
        finally:
            fp.end(agent)
    usage = agent.usage
    mark = fp.verdict(usage.cpu_percent, IDLE_TARGET_PERCENT)
    print(
        f"default settings: {usage.cpu_percent:.4f} % of a core over {usage.wall_seconds:.0f} s "
        f"(target <= {IDLE_TARGET_PERCENT}) {mark}; RSS max {usage.rss_mib_max:.1f} MiB"
    )
    return {
        "seconds": round(usage.wall_seconds, 1),
        "cpu_percent_of_core": round(usage.cpu_percent, 4),
        "rss_mib_max": round(usage.rss_mib_max, 2),
        "target": IDLE_TARGET_PERCENT,
        "verdict": mark,
    }


def fill_buffer(path: Path, count: int) -> None:
    from fleetwatch.agent.buffer import DurableBuffer
    from fleetwatch.agent.snapshot import SnapshotCollector
    from fleetwatch.protocol.agent_config import validate

    snapshot = SnapshotCollector(validate({})).collect()
    buffer = DurableBuffer(path, 10**10)
    for _ in range(count):
        snapshot["snapshot_id"] = uuid.uuid4().hex
        buffer.append(snapshot["snapshot_id"], json.dumps(snapshot).encode())
    buffer.close()


def phase_replay(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    fill_buffer(workdir / "replay-buffer.db", args.replay_count)
    with local_hub(workdir) as hub_url:
        config = write_config(
            workdir / "agent-replay.json",
            dashboard_url=hub_url,
            buffer_file="replay-buffer.db",
            log_file="",
            **register(hub_url),
        )
        agent = fp.Contender("replay", fleetwatch("agent", "run", "--config", str(config)))
        try:
            fp.start(agent, workdir)
            first_at = None
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                stored = hub_rows(workdir)
                if stored and first_at is None:
                    first_at, first_count = time.monotonic(), stored
                if stored >= args.replay_count:
                    break
                time.sleep(0.02)
            done_at = time.monotonic()
        finally:
            fp.end(agent)
    assert first_at is not None, "nothing was replayed"
    rate = (stored - first_count) / max(done_at - first_at, 1e-6)
    mark = "PASS" if rate >= REPLAY_TARGET_PER_SECOND else "MISS"
    print(
        f"buffer replay: {stored} snapshots, {rate:,.0f} stored/s "
        f"(target >= {REPLAY_TARGET_PER_SECOND:,.0f}) {mark}"
    )
    return {"snapshots": stored, "per_second": round(rate, 1), "verdict": mark}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", default="daemon,idle,replay", help="comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="daemon phase window (60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring (5)")
    parser.add_argument("--idle-seconds", type=float, default=600.0, help="idle window (600)")
    parser.add_argument("--replay-count", type=int, default=5000, help="snapshots (5000)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file ({RESULTS})")
    args = parser.parse_args()
    args.interval, args.config = 1.0, None  # what agent_footprint's helpers expect
    if not Path("/proc/self/stat").exists():
        print("this benchmark reads /proc and runs on Linux only", file=sys.stderr)
        return 2
    phases = {"daemon": phase_daemon, "idle": phase_idle, "replay": phase_replay}
    results: dict[str, Any] = {"finished_at": None}
    try:
        for name in args.phases.split(","):
            with tempfile.TemporaryDirectory(prefix=f"fleetwatch-bench-{name}-") as tmp:
                results[name] = phases[name.strip()](args, Path(tmp))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
