"""Worker -> hub: what the alert engine and the overview need of each snapshot a worker took.

The elected leader (the hub process) evaluates alerts. Without this it would read every
snapshot an ingest worker sent back from the store and decode it, which cost the hub process
more CPU than ingesting it had. Instead each worker reads the alertable metrics of the snapshots
it has in hand (`alerts.metrics.METRICS`, a few microseconds each) and sends them along with the
write (`forward.py`). Once the hub's writer committed them, the hub publishes them on its event
bus, one `Relayed` event per write: the engine takes them like its own snapshots, and the
overview pushes the servers that reported.

**The relay filter.** Most snapshots of a healthy fleet change nothing: no rule's threshold is
reached and their server has no condition pending, firing or cooling down, so the engine would
skip every reading (`Evaluator.evaluate_snapshot`). The hub tells its workers what it takes to
matter (`RelayFilter`): per watched metric the loosest threshold of any enabled rule with every
server's own thresholds applied, and the servers in trouble (a condition pending, firing or
cooling down). A worker sends
the readings of a snapshot whose server is watched or that reaches a bound; of the others only
the row (committed, timestamp), so the engine still counts it as seen. Measured on the ingest
bench: relaying and evaluating every snapshot cost a quarter of the hub's throughput.

A server's first breach makes the engine add it to the watched servers; the hub tells the
workers within `pool.ADVERTISE_SECONDS`, and the worker that relayed the breach keeps relaying
that server in full for `RECENT_SECONDS` on its own, so the snapshots that follow reach the
engine whatever it has told yet (an agent sends one snapshot per interval; several at once come
in one request, to one worker). Until a worker is told a filter (a new worker, a hub process
that does not lead the alerting), it relays every snapshot.

A snapshot a worker had to write itself (the hub gone, or a write too large for a message) is
not relayed: the engine reads those rows from the store (`alerts/feed.py`), so nothing is missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fleetwatch.hub.alerts.feed import Relayed
from fleetwatch.hub.alerts.metrics import METRICS, Reading
from fleetwatch.hub.alerts.relayfilter import RelayFilter
from fleetwatch.hub.events import EventBus, SnapshotView

#: one snapshot's readings: metric name -> reading
Readings = dict[str, Reading]
#: how long a worker relays a server in full after one of its snapshots reached a bound
RECENT_SECONDS = 10.0


class Wanted:
    """Worker side: the `RelayFilter` the hub last told this worker (every alertable metric
    and every snapshot until it did). Reading all metrics costs ~5 us per snapshot."""

    def __init__(self) -> None:
        self.filter: RelayFilter | None = None
        self._readers: list[tuple[str, Callable[[Any], Reading]]] | None = None
        self._recent: dict[str, float] = {}  # server -> relayed in full until (monotonic)
        self.filtered = 0  # snapshots sent without readings

    @property
    def names(self) -> frozenset[str] | None:
        return None if self.filter is None else self.filter.metrics

    def update(self, message: bytes) -> None:
        self.filter = RelayFilter.parse(message)
        self._readers = None

    def readers(self) -> list[tuple[str, Callable[[Any], Reading]]]:
        if self._readers is None:
            names = self.names
            self._readers = [
                (name, spec.read)
                for name, spec in METRICS.items()
                if spec.read is not None and (names is None or name in names)
            ]
        return self._readers

    def read(self, server_id: str, snapshots: Sequence[SnapshotView]) -> list[Readings | None]:
        """Each snapshot's readings, or None where the filter says the engine has no use for
        them."""
        readers = self.readers()
        out: list[Readings | None] = [
            {name: read(snap) for name, read in readers} for snap in snapshots
        ]
        rf = self.filter
        if rf is None or rf.bounds is None or server_id in rf.watched:
            return out
        now = time.monotonic()
        if self._recent.get(server_id, 0.0) > now:
            return out
        bounds = rf.bounds
        for i, readings in enumerate(out):
            assert readings is not None
            if _reaches(readings, bounds):
                self._remember(server_id, now)
                return out  # this one and every later one: the engine now has state
            out[i] = None
            self.filtered += 1
        return out

    def _remember(self, server_id: str, now: float) -> None:
        recent = self._recent
        if len(recent) > 10_000:  # forget the expired ones now and then
            self._recent = recent = {s: t for s, t in recent.items() if t > now}
        recent[server_id] = now + RECENT_SECONDS


def _reaches(readings: Readings, bounds: Mapping[str, tuple[bool, float]]) -> bool:
    for name, reading in readings.items():
        if not reading:
            continue
        bound = bounds.get(name)
        if bound is None:  # no threshold known for it: the engine decides
            return True
        above, threshold = bound
        for _target, value in reading:
            if value is not None and (value >= threshold if above else value <= threshold):
                return True
    return False


def publish(
    bus: EventBus, server_id: str, rows: Sequence[tuple[int | None, float, Readings | None]]
) -> None:
    """Hub side: `(row_id, ts, readings)` of one write's committed snapshots -> one `Relayed`
    event (a row id of None is a duplicate, announced when it was first stored)."""
    kept = tuple((row_id, ts, readings) for row_id, ts, readings in rows if row_id is not None)
    if kept:
        bus.publish(Relayed(server_id, kept))
