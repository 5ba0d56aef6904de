"""`fleetwatch demo`: fill a hub with a simulated fleet (seed 001 `demo_simulate`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fleetwatch.errors import ConfigError


def _positive(kind: type[int] | type[float], minimum: float = 0) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


def _run(args: argparse.Namespace) -> int:
    from fleetwatch.demo_client import run_demo

    if not args.url.startswith(("http://", "https://")):
        raise ConfigError("--url", f"must start with http:// or https://, got {args.url!r}")
    result = run_demo(
        args.url,
        args.count,
        args.rounds,
        round_interval_seconds=args.round_interval_seconds,
        live=args.live,
        live_ticks=args.live_ticks,
        history_hours=args.history_hours,
        history_step_seconds=args.history_step_seconds,
        seed=args.seed,
        progress=lambda msg: print(f"  {msg}", file=sys.stderr),
    )
    print(f"{'hostname':<16} {'group':<12} {'hot':<4} server_id")
    for s in result.servers:
        hot = "yes" if s.profile.hot else ""
        print(f"{s.profile.hostname:<16} {s.profile.group:<12} {hot:<4} {s.server_id}")
    groups = len({s.profile.group for s in result.servers})
    print(
        f"{len(result.servers)} servers in {groups} groups; "
        f"{result.snapshots_sent} snapshots ({result.duplicates} duplicates), "
        f"{result.live_samples_sent} live samples, {result.requests} requests "
        f"in {result.seconds:.1f} s -> {args.url.rstrip('/')}/api/dashboard"
    )
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="register simulated servers and send realistic metrics to a hub",
        description="Registers COUNT simulated servers across 5 groups through the hub's "
        "public API and sends ROUNDS snapshots each (the last one now), optionally with "
        "backfilled history and live samples.",
    )
    p.add_argument("--url", default="http://127.0.0.1:8000", help="hub URL")
    p.add_argument("--count", type=_positive(int, 1), default=8, help="servers (default 8)")
    p.add_argument("--rounds", type=_positive(int, 1), default=12, help="snapshots per server")
    p.add_argument(
        "--round-interval-seconds",
        type=_positive(float, 1),
        default=60.0,
        help="time between rounds (default 60)",
    )
    p.add_argument("--live", action="store_true", help="also send live samples")
    p.add_argument("--live-ticks", type=_positive(int, 1), default=30, help="live samples each")
    p.add_argument(
        "--history-hours",
        type=_positive(float, 0),
        default=0.0,
        help="backfill this many hours of history first (batched; the hub takes only what its"
        " raw retention keeps, 48 h by default)",
    )
    p.add_argument(
        "--history-step-seconds",
        type=_positive(float, 10),
        default=300.0,
        help="spacing of backfilled snapshots (default 300)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same fleet)")
    p.set_defaults(func=_run)
