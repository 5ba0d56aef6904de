"""Remote-operations benchmark (`make bench-hub`, issue 21): control channels, command round
trips and stdin relay against a real hub process, in one run.

A hub (`--ingest-workers 0`, SQLite) and `--agents` (100) control channels: each is the
agent's own code (`agent/control`: the WebSocket client, the channel thread, the command runner
with its journal), one thread each in this process instead of 100 agent daemons (their
collectors would only add noise); one of them also manages the echo console program.

1. Idle channel cost: the hub's RSS with every channel connected minus before (per channel).
2. Command round trip: `--commands` (300) `echo` commands, one at a time, round-robin over the
   agents, from `POST /api/servers/{id}/commands` until `GET /api/commands/{id}` answers done
   with exit code 0 (polled every millisecond): p50 and p99.
3. Stdin relay: `--lines` (1,000) `POST .../processes/echo/input` calls, `--concurrency` (32)
   at a time, each answered once the agent acknowledged the delivery; then every line must
   have come back out of the console (its log file): lines/s and lost lines.

Goals: p99 round trip <= 50 ms; >= 500 lines/s with 0 lost; idle channels <= 20 KiB each.
Smoke run: `python bench/commands.py --agents 5 --commands 20 --lines 50`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from fleetwatch.agent.control.channel import ControlChannel
from fleetwatch.agent.control.commands import CommandRunner, Journal
from fleetwatch.agent.control.processes import ProcessManager
from fleetwatch.agent.transport import HubConnection
from ingest import free_port, stop, wait_http

CONSOLE = Path(__file__).parents[1] / "tests" / "fixtures" / "echo_console.py"
GOALS = {"p99_ms": 50.0, "lines_per_s": 500.0, "kib_per_channel": 20.0}


def start_hub(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env["FLEETWATCH_RATE_LIMIT_PER_MINUTE"] = "0"
    data.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "fleetwatch.cli.main",
        "hub",
        "--port",
        str(port),
        "--data-dir",
        str(data),
        "--ingest-workers",
        "0",
    ]
    with (data / "console.log").open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/api/ping", proc)
    return proc, base


def admin_token(data: Path) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleetwatch.cli.main",
            "user",
            "token",
            "admin",
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def channels(
    base: str, count: int, work: Path
) -> tuple[list[ControlChannel], list[str], ProcessManager]:
    user = pwd.getpwuid(os.getuid()).pw_name
    policy = {
        "allow": ["echo"],
        "shell": False,
        "user": user,
        "max_output_bytes": 65536,
        "max_timeout_seconds": 60,
    }
    out, ids = [], []
    manager = ProcessManager(
        [
            {
                "name": "echo",
                "argv": [sys.executable, str(CONSOLE)],
                "cwd": "",
                "env": {},
                "restart": "no",
                "autostart": True,
            }
        ],
        work / "processes",
        send=lambda _t: None,
    )
    for i in range(count):
        body = httpx.post(f"{base}/api/register", json={"hostname": f"ops-{i}"}).json()
        token = f"{body['server_id']}:{body['api_key']}"
        runner = CommandRunner(policy, Journal(work / f"journal-{i}"), send=lambda _t: None)
        conn = HubConnection(base)
        channel = ControlChannel(
            lambda c=conn: c,
            lambda t=token: t,
            runner,
            lambda _l: None,
            lambda: None,
            manager if i == 0 else None,
        )
        out.append(channel)
        ids.append(body["server_id"])
    manager.start()
    for channel in out:
        channel.start()
    for channel in out:
        if not channel.connected.wait(30):
            raise SystemExit("a control channel did not connect in 30 s")
    return out, ids, manager


def round_trips(base: str, token: str, ids: list[str], n: int) -> list[float]:
    times = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as api:
        for i in range(n):
            t0 = time.perf_counter()
            made = api.post(
                f"/api/servers/{ids[i % len(ids)]}/commands", json={"argv": ["echo", str(i)]}
            ).json()
            while True:
                item = api.get(f"/api/commands/{made['id']}").json()
                if item["done"]:
                    break
                time.sleep(0.001)
            times.append((time.perf_counter() - t0) * 1000)
            if item["exit_code"] != 0 or item["output"] != f"{i}\n":
                raise SystemExit(f"command {i} came back wrong: {item}")
    return times


async def relay(
    base: str, token: str, server_id: str, lines: int, concurrency: int
) -> tuple[float, int]:
    sem = asyncio.Semaphore(concurrency)
    failed = 0

    async def one(api: httpx.AsyncClient, i: int) -> None:
        nonlocal failed
        async with sem:
            r = await api.post(
                f"/api/servers/{server_id}/processes/echo/input", json={"text": f"line {i}"}
            )
            if r.status_code != 200 or r.json()["state"] != "done":
                failed += 1

    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        limits=httpx.Limits(max_connections=concurrency),
    ) as api:
        t0 = time.perf_counter()
        await asyncio.gather(*(one(api, i) for i in range(lines)))
        return time.perf_counter() - t0, failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--commands", type=int, default=300)
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fw-bench-ops-") as tmp:
        work = Path(tmp)
        proc, base = start_hub(work / "hub")
        made: list[ControlChannel] = []
        manager: ProcessManager | None = None
        try:
            token = admin_token(work / "hub")
            hub = psutil.Process(proc.pid)
            time.sleep(2)
            before = hub.memory_info().rss
            made, ids, manager = channels(base, args.agents, work)
            time.sleep(3)
            per_channel = (hub.memory_info().rss - before) / args.agents / 1024
            times = sorted(round_trips(base, token, ids, args.commands))
            seconds, failed = asyncio.run(relay(base, token, ids[0], args.lines, args.concurrency))
            time.sleep(1)
            out = (work / "processes" / "echo.log").read_text().splitlines()
            echoed = len({line for line in out if line.startswith("echo: line ")})
            doubled = sum(1 for line in out if line.startswith("echo: line ")) - echoed
        finally:
            if manager is not None:
                manager.stop_all()
            for channel in made:
                channel.stop_event.set()
            stop(proc)
    p50, p99 = statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]
    rate = args.lines / seconds
    report: list[tuple[str, float, float, str]] = [
        ("command round trip p50 (ms)", p50, GOALS["p99_ms"], "<="),
        ("command round trip p99 (ms)", p99, GOALS["p99_ms"], "<="),
        ("stdin lines/s, acknowledged", rate, GOALS["lines_per_s"], ">="),
        ("idle channel, hub RSS (KiB each)", per_channel, GOALS["kib_per_channel"], "<="),
    ]
    print(
        f"remote operations: {args.agents} control channels, {args.commands} commands, "
        f"{args.lines} stdin lines ({args.concurrency} at a time)"
    )
    print(f"{'':36}{'measured':>10}{'goal':>10}  ratio")
    for label, value, goal, sense in report:
        ratio = value / goal
        print(f"{label:36}{value:>10.1f}{sense:>4}{goal:>6.0f}  {ratio:.2f}x")
    lost = args.lines - echoed
    print(
        f"stdin lines lost: {lost}, delivered twice: {doubled} (not acknowledged: {failed}); goal 0"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
