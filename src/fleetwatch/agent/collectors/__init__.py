"""One collector module per metric family (A1–A5), each taking its data source as a parameter.

Collectors read; they never render, store or send. They catch only `OSError` (and psutil's
errors) for their own family and report what they could; `fleetwatch.agent.snapshot`
assembles them into snapshots and live samples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Warn = Callable[[str], None]


def guarded(
    errors: tuple[type[BaseException], ...], family: str, warn: Warn, fn: Callable[[], T]
) -> T | None:
    """Run one family's reader: an unreadable source becomes one warning and `None`."""
    try:
        return fn()
    except errors as exc:
        warn(f"{family}: {exc}")
        return None
