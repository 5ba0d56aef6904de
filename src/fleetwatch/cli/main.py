"""Entry point of the `fleetwatch` command.

Each command-group module exposes `register(subparsers)` and sets `func` on its parsers;
heavy imports happen inside the handlers so `fleetwatch agent ...` stays light.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from fleetwatch import __version__
from fleetwatch.errors import ConfigError, FleetwatchError

#: Command-group modules under fleetwatch.cli, in help order.
GROUPS = (
    "agent", "top", "hub", "up", "demo", "export", "cleanup", "watch", "user", "protocol",
    "grafana", "snmp", "cmd", "logs",
)  # fmt: skip


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only` naming a group, just that group is imported and registered.

    `main` passes the group being run, so one group's module-level imports (asyncio in a hub
    command costs the agent ~5.5 MiB RSS) never load into another group's process.
    """
    parser = argparse.ArgumentParser(
        prog="fleetwatch", description="fleetwatch: infrastructure monitoring (agent and hub)."
    )
    parser.add_argument("--version", action="version", version=f"fleetwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only in GROUPS else GROUPS:
        try:
            module = importlib.import_module(f"fleetwatch.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"fleetwatch.cli.{name}":
                continue  # group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # seed 001: `python agent.py myconfig.json` -> `fleetwatch agent myconfig.json`
    if (
        len(args_list) == 2
        and args_list[0] == "agent"
        and args_list[1].endswith((".json", ".toml"))
    ):
        args_list = ["agent", "run", "--config", args_list[1]]
    tail: list[str] | None = None
    if args_list[:1] == ["cmd"] and "--" in args_list:  # `fleetwatch cmd SERVER [opts] -- ARGV`
        cut = args_list.index("--")
        args_list, tail = args_list[:cut], args_list[cut + 1 :]
    parser = build_parser(args_list[0] if args_list else None)
    args = parser.parse_args(args_list)
    if tail is not None:
        args.argv = tail
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except ConfigError as exc:
        print(f"fleetwatch: configuration error: {exc}", file=sys.stderr)
        return 2
    except FleetwatchError as exc:
        print(f"fleetwatch: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `fleetwatch grafana dashboard | head`: the reader is gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141


if __name__ == "__main__":
    sys.exit(main())
