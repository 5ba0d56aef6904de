"""The local status endpoint (A11): the latest snapshot over loopback HTTP.

Modules: `server` (routes and the collecting thread), `http` (a minimal HTTP/1.1 server on
`socketserver`), `tree` (a snapshot re-shaped for path addressing), `metrics` (a snapshot as
Prometheus text) and `link` (the server run inside the daemon when `status_listen` is set).

The public names below are loaded on first use, so importing one module (the daemon imports
`link` only) never loads the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetwatch.agent.status.link import StatusLink
    from fleetwatch.agent.status.metrics import render_metrics
    from fleetwatch.agent.status.server import StatusServer, is_loopback, parse_listen
    from fleetwatch.agent.status.tree import build_tree, lookup, stats_of

_HOMES = {
    "StatusLink": "link",
    "render_metrics": "metrics",
    "StatusServer": "server",
    "is_loopback": "server",
    "parse_listen": "server",
    "build_tree": "tree",
    "lookup": "tree",
    "stats_of": "tree",
}

__all__ = [
    "StatusLink",
    "StatusServer",
    "build_tree",
    "is_loopback",
    "lookup",
    "parse_listen",
    "render_metrics",
    "stats_of",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
