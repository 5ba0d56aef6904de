"""The hub's ingest figures for `/metrics`: payloads, samples, rejections and write latency.

Counting must cost nothing on the hot path (a dict increment per request), and it must add up
across processes: each ingest worker counts in its own `Telemetry`, and sends what it counted
to the hub process about once a second (`take()` there, `merge()` here, over the worker's
channel: `dispatch/worker.py`, `dispatch/pool.py`). The hub's `/metrics` shows the sum, so a
scrape lags a worker's requests by a second at most. `families()` turns the figures into
`prometheus_client` metric families; nothing here formats text.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

#: upper bounds (seconds) of the write-latency histogram: request read -> write committed
WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: counter name -> (family, help, label name)
COUNTERS = {
    "payloads": ("fleetwatch_hub_ingest_payloads",
                 "Agent requests stored (a snapshot, a batch or a live sample).", "kind"),
    "samples": ("fleetwatch_hub_ingest_samples",
                "Snapshots and live samples stored (a batch holds several).", "kind"),
    "rejected": ("fleetwatch_hub_ingest_rejected",
                 "Agent requests refused, by the error code they were answered with.", "reason"),
    "snmp": ("fleetwatch_hub_snmp_requests", "SNMP messages received, by what became of them: "
             "answered, bad_community, unsupported, malformed.", "outcome"),
    "remote_write": ("fleetwatch_hub_remote_write_samples", "Samples for remote-write: sent, "
                     "dropped (the queue was full), retried (a send failed).", "outcome"),
}  # fmt: skip


@dataclass
class Delta:
    """What one process counted since it last sent (picklable: crosses the worker channel)."""

    counts: dict[tuple[str, str], float] = field(default_factory=dict)
    buckets: dict[str, list[int]] = field(default_factory=dict)  # kind -> count per bucket
    sums: dict[str, float] = field(default_factory=dict)  # kind -> seconds

    def __bool__(self) -> bool:
        return bool(self.counts or self.sums)


class Telemetry:
    """Counters and a latency histogram of one process (all calls on its event loop)."""

    def __init__(self) -> None:
        self._now = Delta()

    def count(self, name: str, label: str, n: float = 1) -> None:
        counts = self._now.counts
        key = (name, label)
        counts[key] = counts.get(key, 0) + n

    def observe_write(self, kind: str, seconds: float) -> None:
        now = self._now
        buckets = now.buckets.get(kind)
        if buckets is None:
            buckets = now.buckets[kind] = [0] * (len(WRITE_BUCKETS) + 1)
        buckets[bisect.bisect_left(WRITE_BUCKETS, seconds)] += 1
        now.sums[kind] = now.sums.get(kind, 0.0) + seconds

    def take(self) -> Delta:
        """What was counted, and start again from zero (a worker sends it to the hub)."""
        taken, self._now = self._now, Delta()
        return taken

    def merge(self, delta: Delta) -> None:
        for key, n in delta.counts.items():
            self.count(key[0], key[1], n)
        for kind, buckets in delta.buckets.items():
            mine = self._now.buckets.setdefault(kind, [0] * (len(WRITE_BUCKETS) + 1))
            for i, n in enumerate(buckets):
                mine[i] += n
        for kind, seconds in delta.sums.items():
            self._now.sums[kind] = self._now.sums.get(kind, 0.0) + seconds

    def value(self, name: str, label: str) -> float:
        return self._now.counts.get((name, label), 0)

    def families(self) -> Iterator[Metric]:
        for name, (family_name, doc, label) in COUNTERS.items():
            family = CounterMetricFamily(family_name, doc, labels=[label])
            for (counted, value), n in sorted(self._now.counts.items()):
                if counted == name:
                    family.add_metric([value], n)
            yield family
        histogram = HistogramMetricFamily(
            "fleetwatch_hub_ingest_write_seconds",
            "From an agent's request read to its write committed.",
            labels=["kind"],
        )
        for kind, buckets in sorted(self._now.buckets.items()):
            cumulative, total = [], 0
            for bound, n in zip((*WRITE_BUCKETS, float("inf")), buckets, strict=True):
                total += n
                cumulative.append((_bound(bound), float(total)))
            histogram.add_metric([kind], cumulative, self._now.sums.get(kind, 0.0))
        yield histogram


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
