"""What the alert engine wants its ingest workers to relay (`dispatch/relay.py`), worked out
from its rules, the dashboard's default thresholds and every server's own thresholds.

A snapshot of a server with no condition state changes nothing unless one of its readings
reaches a threshold (`evaluation.Slot.breaches`: inclusive, no hysteresis while nothing fires).
So the loosest threshold per metric over every enabled rule, as each server sees it
(`Evaluator.effective_rule`), is a bound no reading below it can matter past: a worker relays
the readings of a snapshot that reaches a bound, or whose server is `watched` (in trouble: a
condition pending, firing or cooling down; the timer's checks leave idle states behind, which
do not count).
Bounds are known only once the engine has read every server (`AlertEngine.lead`); until then,
and with more than `WATCHED_MAX` servers in some state, every snapshot is relayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from fleetwatch.hub.alerts.evaluation import SNAPSHOT_METRICS, Evaluator, ServerInfo

#: prefix of the hub's message to its workers: `WANTED` + the JSON of a `RelayFilter`
WANTED = b"W"
#: beyond this many servers in some state the filter would be a large message to send to
#: every worker on each change; such a fleet relays every snapshot instead
WATCHED_MAX = 2000


@dataclass(frozen=True)
class RelayFilter:
    """What the alert engine wants relayed.

    `metrics`: the metrics some enabled rule watches (only these are read). `bounds`: metric ->
    (above, threshold): a reading at or beyond the threshold (`>=` when above, else `<=`) may
    start a condition; None: relay every snapshot. `watched`: servers relayed in full (they have
    a condition that any reading may move)."""

    metrics: frozenset[str]
    bounds: Mapping[str, tuple[bool, float]] | None = None
    watched: frozenset[str] = field(default_factory=frozenset)

    def message(self) -> bytes:
        return WANTED + orjson.dumps(
            {
                "metrics": sorted(self.metrics),
                "bounds": None if self.bounds is None else dict(sorted(self.bounds.items())),
                "watched": sorted(self.watched),
            }
        )

    @classmethod
    def parse(cls, message: bytes) -> RelayFilter:
        data: Any = orjson.loads(message[len(WANTED) :])
        raw = data.get("bounds")
        bounds = None if raw is None else {m: (bool(a), float(b)) for m, (a, b) in raw.items()}
        return cls(frozenset(data["metrics"]), bounds, frozenset(data.get("watched") or ()))


def relay_filter(evaluator: Evaluator, bounded: bool) -> RelayFilter:
    """`evaluator`'s current filter; `bounded`: it knows every server (else relay all)."""
    metrics = frozenset(evaluator.wanted())
    if not bounded:
        return RelayFilter(metrics)
    watched = frozenset(server for server in evaluator.states if evaluator.in_trouble(server))
    if len(watched) > WATCHED_MAX:
        return RelayFilter(metrics)
    cached = evaluator.bounds_cache
    if cached is None or cached[0] != evaluator.generation:
        cached = evaluator.bounds_cache = (evaluator.generation, bounds(evaluator))
    return RelayFilter(metrics, cached[1], watched)


def bounds(evaluator: Evaluator) -> dict[str, tuple[bool, float]]:
    """Metric -> (above, loosest threshold) over every enabled snapshot rule, with the
    dashboard's defaults and each server's own thresholds applied."""
    views = [ServerInfo("", None, None, 0.0)]  # every server without thresholds of its own
    views += [info for info in evaluator.servers.values() if info.thresholds]
    out: dict[str, tuple[bool, float]] = {}
    for rule in evaluator.rules:
        if not rule.enabled or rule.metric not in SNAPSHOT_METRICS:
            continue
        above = rule.comparison == ">"
        for info in views:
            effective = evaluator.effective_rule(info, rule)
            for threshold in (effective.warning, effective.critical):
                if threshold is None:
                    continue
                known = out.get(rule.metric)
                if known is not None:
                    threshold = min(known[1], threshold) if above else max(known[1], threshold)
                out[rule.metric] = (above, threshold)
    return out
