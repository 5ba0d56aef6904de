"""`fleetwatch grafana dashboard`: print an importable Grafana dashboard for the hub's
`/metrics` (scraped by Prometheus): `fleetwatch grafana dashboard > fleet.json`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("grafana", help="Grafana integration (a dashboard for /metrics)")
    grafana_sub = parser.add_subparsers(dest="grafana_command", metavar="SUBCOMMAND")
    board = grafana_sub.add_parser(
        "dashboard", help="print a dashboard JSON for a Prometheus data source (import it)"
    )
    board.add_argument("--title", default="fleetwatch fleet", help="the dashboard's title")
    board.set_defaults(func=_dashboard)
    parser.set_defaults(func=lambda _args: parser.print_help() or 2)


def _dashboard(args: argparse.Namespace) -> int:
    from fleetwatch.hub.grafana import dashboard

    json.dump(dashboard(args.title), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
