"""argparse building blocks shared by the `fleetwatch` command modules.

An argument type raises `ArgumentTypeError`, which argparse reports as
`fleetwatch ...: error: argument --x: <message>` with exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def documented_command(
    sub: Any, name: str, help_text: str, doc: str | None, **kwargs: Any
) -> argparse.ArgumentParser:
    """Add subcommand `name` whose `--help` shows `doc` (its module docstring) as written."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
    return parser


def bounded_float(low: float, high: float, unit: str = "") -> Callable[[str], float]:
    """A number in `[low, high]`; `unit` (e.g. `" seconds"`) follows the bounds in the error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be between {low:g} and {high:g}{unit}, got {text}"
            )
        return value

    return parse
