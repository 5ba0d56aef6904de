"""`fleetwatch up`: the hub and a local agent in one command (T3, `make run`).

Starts `fleetwatch hub` as a child process (SQLite under `--data-dir`), waits until it answers
`GET /api/ping`, then starts `fleetwatch agent run` with `<data-dir>/agent.json` (created on
the first run: this hub's URL, a snapshot every 30 s, live samples every 5 s), and with
`--demo` also runs `fleetwatch demo` once against the hub. Both children write to this
terminal (the hub prints the first-run admin password there, once). Ctrl-C (or SIGTERM) stops
the agent, then the hub, and waits for both.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from fleetwatch.cli.parsers import documented_command
from fleetwatch.errors import FleetwatchError

#: The local agent's settings on the first run (an operator edits agent.json afterwards).
LOCAL_AGENT_DEFAULTS: dict[str, Any] = {
    "collection_interval_seconds": 30,
    "live_enabled": True,
    "live_interval_seconds": 5,
}
HUB_START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


def register(sub: Any) -> None:
    parser = documented_command(
        sub, "up", "run the hub and a local agent (the two-command setup)", __doc__
    )
    parser.add_argument("--host", default="127.0.0.1", help="hub address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="hub port (default 8000)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="default ./data")
    parser.add_argument("--demo", action="store_true", help="also load a simulated demo fleet")
    parser.add_argument("--no-agent", action="store_true", help="start the hub only")
    parser.set_defaults(func=run)


def _fleetwatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "fleetwatch.cli.main", *args]


def local_url(host: str, port: int) -> str:
    """The URL a local client uses for a hub bound to `host` (wildcards mean loopback)."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def wait_for_hub(
    url: str, hub: subprocess.Popen[bytes], timeout: float, cancelled: Callable[[], bool]
) -> None:
    """Poll `GET /api/ping` until it answers 200; a hub that exits first is an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cancelled():
        if hub.poll() is not None:
            raise FleetwatchError(f"the hub exited with code {hub.returncode} (see its output)")
        try:
            with urllib.request.urlopen(f"{url}/api/ping", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    if cancelled():
        return
    raise FleetwatchError(f"the hub did not answer {url}/api/ping within {timeout:.0f} s")


def prepare_agent_config(data_dir: Path, hub_url: str) -> Path:
    """`<data-dir>/agent.json`: created on the first run; later only `dashboard_url` follows."""
    from fleetwatch.agent.config_writer import update_config_file

    path = data_dir / "agent.json"
    if not path.exists():
        config = {"dashboard_url": hub_url, **LOCAL_AGENT_DEFAULTS}
        update_config_file(path, config)
    elif json.loads(path.read_text(encoding="utf-8")).get("dashboard_url") != hub_url:
        update_config_file(path, {"dashboard_url": hub_url})
    return path


def _stop(proc: subprocess.Popen[bytes] | None, name: str) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        print(f"fleetwatch up: the {name} did not stop in time; killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


def _first_run_notice(url: str, demo: bool) -> None:
    # The hub itself prints the first-run admin password (once) on the console above; the
    # dashboard's address is the hub's root.
    lines = [
        f"fleetwatch is running: dashboard and API at {url} (API reference: {url}/docs)",
        "a local agent reports this machine every 30 s (config: agent.json in the data folder)",
    ]
    if demo:
        lines.append("a simulated demo fleet is being loaded")
    lines.append("press Ctrl-C to stop")
    print("\n".join(f"==> {line}" for line in lines), flush=True)


def run(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    url = local_url(args.host, args.port)
    stopping = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    hub = agent = demo = None
    try:
        hub_cmd = _fleetwatch("hub", "--host", args.host, "--port", str(args.port))
        hub = subprocess.Popen([*hub_cmd, "--data-dir", str(data_dir)], env=_child_env())
        wait_for_hub(url, hub, HUB_START_TIMEOUT_SECONDS, lambda: stopping)
        if stopping:
            return 0
        if not args.no_agent:
            config = prepare_agent_config(data_dir, url)
            agent = subprocess.Popen(_fleetwatch("agent", "run", "--config", str(config)))
        if args.demo:
            demo = subprocess.Popen(_fleetwatch("demo", "--url", url))
        _first_run_notice(url, args.demo)
        while not stopping:
            if hub.poll() is not None:
                print(f"fleetwatch up: the hub exited with code {hub.returncode}", file=sys.stderr)
                return 1
            if agent is not None and agent.poll() is not None:
                print(f"fleetwatch up: the agent exited with code {agent.returncode}")
                agent = None
            time.sleep(0.2)
        print("==> stopping the agent and the hub", flush=True)
        return 0
    finally:
        _stop(demo, "demo")
        _stop(agent, "agent")
        _stop(hub, "hub")
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
