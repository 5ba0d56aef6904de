"""The agent's `GET /metrics` text (A11): the snapshot mapping of `protocol.prometheus`,
written with the standard-library `Exposition`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetwatch.agent.exposition import Exposition
from fleetwatch.protocol.prometheus import emit_snapshot


def render_metrics(snapshot: Mapping[str, Any], stats: Mapping[str, Any] | None = None) -> str:
    """The Prometheus text of one snapshot (and optional collection statistics)."""
    exp = Exposition()
    emit_snapshot(exp, snapshot, stats)
    return exp.render()
