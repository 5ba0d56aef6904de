"""`fleetwatch agent ...`: the agent's subcommands, each group of them in its own module."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

#: Modules under fleetwatch.cli that add subcommands to `fleetwatch agent`.
AGENT_COMMAND_MODULES = ("agent_collect", "agent_serve", "agent_run")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("agent", help="run or inspect the agent")
    agent_sub = parser.add_subparsers(dest="agent_command", metavar="SUBCOMMAND")
    for name in AGENT_COMMAND_MODULES:
        try:
            module = importlib.import_module(f"fleetwatch.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"fleetwatch.cli.{name}":
                continue
            raise
        module.register(agent_sub)

    def _help(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=_help)
