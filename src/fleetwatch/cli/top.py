"""`fleetwatch top`: a live terminal view of this host, or of any server through a hub (T2).

Collects full snapshots with the agent's own collector every `--interval` seconds and redraws
a compact (default) or `--detailed` view with local threshold alerts and collection
statistics. `--once` prints a single frame to stdout (for scripts and tests) after two
collections, so CPU percentages and rates cover a real interval.

With `--url URL --server NAME` the frames come from a hub instead (`cli/top_hub.py`): the
server's latest snapshot and the hub's active alerts for it. The dashboard API token comes from
`$FLEETWATCH_TOKEN` or `--token-file`. A hub that stops answering is shown in the frame and
retried at the next refresh (`--once` prints the reason and exits non-zero instead).
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
    hub = parser.add_argument_group("viewing a server through a hub")
    hub.add_argument("--url", metavar="URL", help="hub URL, e.g. http://127.0.0.1:8000")
    hub.add_argument("--server", metavar="NAME", help="server id, hostname or display name")
    hub.add_argument(
        "--token-file",
        metavar="FILE",
        help="file holding a dashboard API token (default: $FLEETWATCH_TOKEN)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.url or args.server:
        return run_hub(args)
    from rich.console import Console
    from rich.live import Live

    from fleetwatch.agent.config import load_config
    from fleetwatch.agent.snapshot import SnapshotCollector
    from fleetwatch.agent.status.tree import stats_of
    from fleetwatch.agent.top.alerts import evaluate
    from fleetwatch.agent.top.view import render_frame

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


def run_hub(args: argparse.Namespace) -> int:
    """`--url` / `--server`: frames of a server as the hub has it."""
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    from fleetwatch.agent.top.view import render_frame
    from fleetwatch.cli.export import read_token
    from fleetwatch.cli.top_hub import HubView
    from fleetwatch.errors import ConfigError, TransportError

    if not (args.url and args.server):
        raise ConfigError("--server" if args.url else "--url", "--url and --server go together")
    view = HubView(args.url, args.server, read_token(args.token_file))

    def frame() -> Any:
        data = view.frame()
        return render_frame(
            data.snapshot, None, data.alerts, detailed=args.detailed, footer=data.footer
        )

    console = Console()
    if args.once:
        console.print(frame())  # errors reach the CLI: message on stderr, exit status 2
        return 0
    good = frame()  # a wrong name or token fails here, before the screen switches
    try:
        with Live(good, console=console, screen=True, auto_refresh=False) as live:
            while True:
                time.sleep(args.interval)
                try:
                    good = current = frame()
                except TransportError as exc:  # the last good frame, and why it is old
                    note = Text(f"{exc} (retrying every {args.interval:g} s)", style="red")
                    current = Group(good, note)
                live.update(current, refresh=True)
    except KeyboardInterrupt:
        return 0
