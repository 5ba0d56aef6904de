"""Argument types for the `fleetwatch` command line: parse one option value or say why not.

argparse turns the `ArgumentTypeError` into `fleetwatch ...: error: argument --x: <message>`
and exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


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
