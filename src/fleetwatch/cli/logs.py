"""`fleetwatch logs [SERVER] [--app A] [--level L] [-q TEXT] [--since 1h] [-n N] [--follow]`:
read the hub's log store (H17), oldest of the page first; `--follow` keeps printing new lines.

SERVER is a server id, hostname or display name. `-q` is full text (words, "phrases",
prefix*). `--since` takes 30s, 15m, 2h, 7d, epoch seconds or an ISO 8601 time. The token
comes from `--token-file` or `$FLEETWATCH_TOKEN` (viewer role is enough).
"""

from __future__ import annotations

import argparse
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from fleetwatch.cli.hubapi import add_hub_arguments, call_json, check_url, read_token
from fleetwatch.errors import ConfigError

LEVELS = ("debug", "info", "warning", "error", "critical")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
FOLLOW_SECONDS = 1.0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "logs", help="search the hub's log store, or follow it", description=__doc__
    )
    p.add_argument("server", nargs="?", default=None, help="server id, hostname or name")
    p.add_argument("--app", default=None, help="only this app")
    p.add_argument("--level", choices=LEVELS, default=None, help="this level and above")
    p.add_argument("-q", "--query", default=None, help="full-text search")
    p.add_argument("--since", default=None, help="30s, 15m, 2h, 7d, epoch or ISO time")
    p.add_argument("-n", "--lines", type=int, default=50, help="lines to show (1-1000)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    add_hub_arguments(p)
    p.set_defaults(func=_run)


def since_value(text: str, now: float) -> str:
    """`--since` as the API takes it (relative spans become epoch seconds)."""
    unit = UNITS.get(text[-1:])
    if unit is not None and text[:-1].replace(".", "", 1).isdigit():
        return str(now - float(text[:-1]) * unit)
    return text


def format_line(row: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(float(row["ts"]), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    host = row.get("hostname") or row["server_id"][:8]
    return f"{when}Z {host} {row['app']} {row['level'].upper()} {row['message']}"


def _run(args: argparse.Namespace) -> int:
    from fleetwatch.cli.cmd import resolve

    base = check_url(args.url)
    token = read_token(args.token_file)
    if not 1 <= args.lines <= 1000:
        raise ConfigError("--lines", "must be 1-1000")
    params: dict[str, Any] = {"limit": args.lines}
    if args.server:
        params["server"] = resolve(base, token, args.server)
    for key, value in (("app", args.app), ("level", args.level), ("q", args.query)):
        if value:
            params[key] = value
    if args.since:
        params["since"] = since_value(args.since, time.time())

    def page(extra: dict[str, Any]) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({**params, **extra})
        rows: list[dict[str, Any]] = call_json(
            "GET", f"{base}/api/logs?{query}", token, "reading the logs"
        )["logs"]
        return rows

    rows = page({})
    newest = max((r["id"] for r in rows), default=0)
    if args.follow and not rows:  # from the store's newest line, whatever it is
        latest = call_json("GET", f"{base}/api/logs?limit=1", token, "reading the logs")["logs"]
        newest = latest[0]["id"] if latest else 0
    for row in reversed(rows):
        print(format_line(row), flush=True)
    while args.follow:
        time.sleep(FOLLOW_SECONDS)
        fresh = page({"after": newest, "limit": 1000})
        for row in reversed(fresh):
            print(format_line(row), flush=True)
        newest = max([newest, *(r["id"] for r in fresh)])
    return 0
