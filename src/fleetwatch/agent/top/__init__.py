"""`fleetwatch top` (T2): one frame of a snapshot, rendered with rich.

Modules: `view` (the frame), `details` (the sections only `--detailed` shows), `format` (sizes,
rates, durations, bars, tables) and `alerts` (local thresholds, stateless).

The public names below are loaded on first use, so importing `alerts` alone does not load rich.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetwatch.agent.top.alerts import (
        CRITICAL,
        DEFAULT_THRESHOLDS,
        WARNING,
        LocalAlert,
        Threshold,
        evaluate,
    )
    from fleetwatch.agent.top.format import human_bytes, human_duration, human_rate
    from fleetwatch.agent.top.view import render_frame

_HOMES = {
    "CRITICAL": "alerts",
    "DEFAULT_THRESHOLDS": "alerts",
    "WARNING": "alerts",
    "LocalAlert": "alerts",
    "Threshold": "alerts",
    "evaluate": "alerts",
    "human_bytes": "format",
    "human_duration": "format",
    "human_rate": "format",
    "render_frame": "view",
}

__all__ = [
    "CRITICAL",
    "DEFAULT_THRESHOLDS",
    "WARNING",
    "LocalAlert",
    "Threshold",
    "evaluate",
    "human_bytes",
    "human_duration",
    "human_rate",
    "render_frame",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
