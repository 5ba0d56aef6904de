"""`fleetwatch agent serve`: the local status endpoint (A11) as a foreground process.

Collects a full snapshot every `--interval` seconds (default 5) and serves the latest one on
loopback: `/status[/<path>]` as a JSON tree and `/metrics` in Prometheus text format. The config
file is re-read when it changes (A9). Only loopback addresses are used unless `--listen` names
another address explicitly on the command line.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from fleetwatch.cli.parsers import bounded_float, documented_command

DEFAULT_LISTEN = "127.0.0.1:9101"


def register(sub: Any) -> None:
    parser = documented_command(
        sub,
        "serve",
        "serve the latest snapshot on a local HTTP endpoint (/status, /metrics)",
        __doc__,
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"address to bind (default: the config's status_listen, else {DEFAULT_LISTEN}); "
        "a non-loopback address is accepted only here",
    )
    parser.add_argument("--config", metavar="FILE", help="agent config file (JSON or TOML)")
    parser.add_argument(
        "--interval",
        type=bounded_float(0.1, 3600, " seconds"),
        metavar="S",
        help="seconds between collections (default: 5)",
    )
    parser.set_defaults(func=run)


def _listen_address(args: argparse.Namespace, config: dict[str, Any]) -> tuple[str, int]:
    from fleetwatch.agent.status.server import is_loopback, parse_listen
    from fleetwatch.errors import ConfigError

    if args.listen:
        return parse_listen(args.listen)
    text = config.get("status_listen") or DEFAULT_LISTEN
    host, port = parse_listen(text)
    if not is_loopback(host):
        raise ConfigError(
            "status_listen",
            f"{text!r} is not a loopback address; pass --listen {text} to expose the "
            "status endpoint beyond this host",
        )
    return host, port


def run(args: argparse.Namespace) -> int:
    from fleetwatch.agent.config import load_config
    from fleetwatch.agent.reload import ConfigWatcher
    from fleetwatch.agent.snapshot import SnapshotCollector
    from fleetwatch.agent.status.server import DEFAULT_INTERVAL_SECONDS, StatusServer

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    path = Path(args.config) if args.config else None
    config = load_config(path, must_exist=path is not None)
    host, port = _listen_address(args, config)
    watcher = ConfigWatcher(path, config)
    collector = SnapshotCollector(config)

    def reload_config() -> None:
        new = watcher.poll()
        if new is not None:
            collector.reconfigure(new)

    interval = args.interval or DEFAULT_INTERVAL_SECONDS
    server = StatusServer(collector, host, port, interval, before_cycle=reload_config)
    server.start()

    def _stop(_signum: int, _frame: object) -> None:
        server.loop.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(
        f"fleetwatch agent: serving {server.url}/status and {server.url}/metrics "
        f"(collecting every {interval:g} s; Ctrl-C to stop)",
        flush=True,
    )
    try:
        server.wait()
    finally:
        server.stop()
    print("fleetwatch agent: status endpoint stopped", file=sys.stderr, flush=True)
    return 0
