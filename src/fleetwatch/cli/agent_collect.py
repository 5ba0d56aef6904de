"""`fleetwatch agent snapshot` and `fleetwatch agent live`: collect locally and print JSON.

`snapshot` prints one full snapshot (the body the agent would POST to `/api/metrics`).
CPU percentages and rates need two readings, so it first takes a short baseline
(`--baseline`, default 0.25 s). `live` prints live samples (the `/api/metrics/live` body) as
JSON lines every `--interval` seconds, `--count` times or until interrupted.

Warnings about unreadable sources go to standard error, once each; standard output stays
valid JSON. An invalid config file exits with status 2 and names the offending key.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from fleetwatch.cli.parsers import bounded_float, documented_command

DEFAULT_BASELINE_SECONDS = 0.25


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def register(sub: Any) -> None:
    snapshot = documented_command(
        sub, "snapshot", "print one full snapshot of this host as JSON", __doc__
    )
    snapshot.add_argument("--config", metavar="FILE", help="agent config file (JSON or TOML)")
    snapshot.add_argument("--pretty", action="store_true", help="indent the JSON")
    snapshot.add_argument(
        "--baseline",
        type=bounded_float(0.0, 10.0),
        default=DEFAULT_BASELINE_SECONDS,
        metavar="S",
        help="seconds between the baseline reading and the snapshot (default: 0.25)",
    )
    snapshot.set_defaults(func=run_snapshot)

    live = documented_command(sub, "live", "print live samples as JSON lines", __doc__)
    live.add_argument("--config", metavar="FILE", help="agent config file (JSON or TOML)")
    live.add_argument(
        "--interval",
        type=bounded_float(0.1, 3600.0),
        default=1.0,
        metavar="S",
        help="seconds between samples (default: 1)",
    )
    live.add_argument(
        "--count", type=_positive_int, metavar="N", help="stop after N samples (default: never)"
    )
    live.set_defaults(func=run_live)


def _setup(args: argparse.Namespace) -> Any:
    from fleetwatch.agent.config import load_config
    from fleetwatch.agent.snapshot import SnapshotCollector

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="fleetwatch: %(levelname)s %(message)s"
        )
    path = Path(args.config) if args.config else None
    config = load_config(path, must_exist=path is not None)
    return SnapshotCollector(config)


def _emit(payload: dict[str, Any], *, pretty: bool = False) -> None:
    text = json.dumps(
        payload, indent=2 if pretty else None, separators=None if pretty else (",", ":")
    )
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _reader_gone() -> None:
    """The reader closed the pipe (`| head`): silence stdout so exit does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run_snapshot(args: argparse.Namespace) -> int:
    collector = _setup(args)
    if args.baseline > 0:
        collector.prime()
        time.sleep(args.baseline)
    try:
        _emit(collector.collect(), pretty=args.pretty)
    except BrokenPipeError:
        _reader_gone()
    return 0


def run_live(args: argparse.Namespace) -> int:
    collector = _setup(args)
    collector.collect_live()  # baseline: the first printed sample already has rates
    time.sleep(min(args.interval, DEFAULT_BASELINE_SECONDS))
    printed = 0
    next_at = time.monotonic()
    try:
        while args.count is None or printed < args.count:
            _emit(collector.collect_live())
            printed += 1
            if args.count is not None and printed >= args.count:
                break
            next_at += args.interval
            time.sleep(max(0.0, next_at - time.monotonic()))
    except BrokenPipeError:
        _reader_gone()
    except KeyboardInterrupt:
        pass
    return 0
