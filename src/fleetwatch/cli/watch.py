"""`fleetwatch watch`: print a hub's live stream (`/ws`) as JSON lines, for scripts.

Connects with the API token (`--token-file` or `$FLEETWATCH_TOKEN`), subscribes with the
filters given, and writes every `monitoring_data` and `alert` message to stdout, one JSON
object per line. A lost connection is retried with a jittered backoff (1 s doubling to 30 s,
back to 1 s once connected); a refused token is not retried (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from typing import Any

from fleetwatch.cli.hubapi import add_hub_arguments, check_url, read_token
from fleetwatch.errors import ConfigError, TransportError

#: close codes that retrying cannot fix
FINAL_CLOSE_CODES = {4401, 4403}
MAX_BACKOFF_SECONDS = 30.0


def ws_url(url: str) -> str:
    base = check_url(url)
    return "ws" + base[4:] + "/ws" if base.startswith("http") else base + "/ws"


def subscription(args: argparse.Namespace) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "subscribe"}
    if args.server:
        message["servers"] = list(args.server)
    if args.families:
        message["families"] = [f.strip() for f in args.families.split(",") if f.strip()]
    if args.rate:
        message["rate_seconds"] = args.rate
    return message


async def _session(url: str, token: str, args: argparse.Namespace) -> int:
    """One connection: print messages until it closes; returns how many were printed."""
    import websockets

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    printed = 0
    async with websockets.connect(url, additional_headers=headers, max_size=2**24) as ws:
        await ws.send(json.dumps(subscription(args)))
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "error":
                print(f"fleetwatch watch: {message.get('code')}: {message.get('message')}",
                      file=sys.stderr)  # fmt: skip
                if message.get("code") == "invalid_subscription":
                    raise ConfigError("--families/--server", str(message.get("message")))
                continue
            if kind in ("monitoring_data", "alert") or (args.all and kind != "connection"):
                sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
                sys.stdout.flush()
                printed += 1
                if args.count and printed >= args.count:
                    return printed
    return printed


async def run_watch(args: argparse.Namespace) -> int:
    import websockets

    url = ws_url(args.url)
    token = read_token(args.token_file)
    backoff, total = 1.0, 0
    while True:
        try:
            total += await _session(url, token, args)
            if args.count and total >= args.count:
                return 0
            backoff = 1.0
        except websockets.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code in FINAL_CLOSE_CODES:
                raise TransportError(f"the hub refused the stream (close code {code})") from None
            print(f"fleetwatch watch: connection closed ({code}); reconnecting", file=sys.stderr)
        except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            if args.once:
                raise TransportError(f"cannot reach the hub stream at {url}: {exc}") from None
            print(f"fleetwatch watch: {exc}; retrying in {backoff:.0f} s", file=sys.stderr)
        if args.once:
            return 0
        await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


def _run(args: argparse.Namespace) -> int:
    if args.rate < 0:
        raise ConfigError("--rate", "must be >= 0 seconds")
    try:
        return asyncio.run(run_watch(args))
    except KeyboardInterrupt:
        return 130


def register(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        help="print a hub's live stream (/ws) as JSON lines",
        description="Subscribes to GET /ws and prints monitoring_data and alert messages.",
    )
    add_hub_arguments(p)
    p.add_argument("--server", action="append", help="server id or group name (repeatable)")
    p.add_argument("--families", default="", help="comma list: cpu,memory,disks,network,...")
    p.add_argument("--rate", type=float, default=0.0, help="at most one message per server per N s")
    p.add_argument("--count", type=int, default=0, help="exit after this many messages")
    p.add_argument("--once", action="store_true", help="do not reconnect")
    p.add_argument("--all", action="store_true", help="also print control replies")
    p.set_defaults(func=_run)
