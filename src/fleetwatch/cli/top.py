"""`fleetwatch top`: a live terminal view of this host (T2).

Collects full snapshots with the agent's own collector every `--interval` seconds and redraws
a compact (default) or `--detailed` view with local threshold alerts and collection
statistics. `--once` prints a single frame to stdout (for scripts and tests) after two
collections, so CPU percentages and rates cover a real interval.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from fleetwatch.cli.parsers import bounded_float, documented_command

DEFAULT_INTERVAL_SECONDS = 2.0
#: Seconds between the two collections of `--once` (at most the interval).
ONCE_GAP_SECONDS = 1.0


def register(sub: Any) -> None:
    parser = documented_command(
        sub,
        "top",
        "live terminal view of this host (compact or detailed)",
        __doc__,
        epilog="TODO: viewing a server through a hub (--url) is not implemented yet.",
    )
    parser.add_argument(
        "--interval",
        type=bounded_float(0.2, 3600, " seconds"),
        default=DEFAULT_INTERVAL_SECONDS,
        metavar="S",
        help=f"seconds between refreshes (default: {DEFAULT_INTERVAL_SECONDS:g})",
    )
    parser.add_argument(
        "--detailed",
        action="store_true",
        help="per-core CPU, disk I/O, packets/errors/drops, watched processes, services, sensors",
    )
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    parser.add_argument("--config", metavar="FILE", help="agent config file (JSON or TOML)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    from fleetwatch.agent.config import load_config
    from fleetwatch.agent.snapshot import SnapshotCollector
    from fleetwatch.agent.status_tree import stats_of
    from fleetwatch.agent.top_alerts import evaluate
    from fleetwatch.agent.top_view import render_frame

    path = Path(args.config) if args.config else None
    collector = SnapshotCollector(load_config(path, must_exist=path is not None))

    def frame() -> Any:
        snapshot = collector.collect()
        return render_frame(
            snapshot, stats_of(collector), evaluate(snapshot), detailed=args.detailed
        )

    console = Console()
    if args.once:
        collector.collect()  # prime counters: CPU % and rates need two samples
        time.sleep(min(args.interval, ONCE_GAP_SECONDS))
        console.print(frame())
        return 0
    collector.collect()
    time.sleep(min(args.interval, ONCE_GAP_SECONDS))
    try:
        with Live(frame(), console=console, screen=True, auto_refresh=False) as live:
            while True:
                time.sleep(args.interval)
                live.update(frame(), refresh=True)
    except KeyboardInterrupt:
        return 0
