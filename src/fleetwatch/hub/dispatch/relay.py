"""Worker -> hub: what the alert engine and the overview need of each snapshot a worker took.

The elected leader (the hub process) evaluates alerts. Without this it would read every
snapshot an ingest worker sent back from the store and decode it, which cost the hub process
more CPU than ingesting it had. Instead each worker reads the alertable metrics of the snapshots
it has in hand (`alerts.metrics.METRICS`, a few microseconds each) and sends them along with the
write (`forward.py`). Once the hub's writer committed them, the hub publishes them on its event
bus as `Relayed` events: the engine takes them like its own snapshots, and the overview pushes
the servers that reported.

A snapshot a worker had to write itself (the hub gone, or a write too large for a message) is
not relayed: the engine reads those rows from the store (`alerts/feed.py`), so nothing is missed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from fleetwatch.hub.alerts.feed import Committed, Relayed
from fleetwatch.hub.alerts.metrics import METRICS, Reading
from fleetwatch.hub.events import EventBus, SnapshotView

#: one snapshot's readings: metric name -> reading
Readings = dict[str, Reading]


class Wanted:
    """The metrics some alert rule watches, as the hub last told this worker (`WANTED` +
    JSON list); every alertable metric until it did. Reading only these is what the engine
    does for its own snapshots; all of them cost ~30 us per snapshot."""

    def __init__(self) -> None:
        self.names: frozenset[str] | None = None
        self._readers: list[tuple[str, Callable[[Any], Reading]]] | None = None

    def update(self, message: bytes) -> None:
        self.names = frozenset(orjson.loads(message[len(WANTED) :]))
        self._readers = None

    def readers(self) -> list[tuple[str, Callable[[Any], Reading]]]:
        if self._readers is None:
            self._readers = [
                (name, spec.read)
                for name, spec in METRICS.items()
                if spec.read is not None and (self.names is None or name in self.names)
            ]
        return self._readers

    def read(self, snapshots: Sequence[SnapshotView]) -> list[Readings]:
        readers = self.readers()
        return [{name: read(snap) for name, read in readers} for snap in snapshots]


#: prefix of the hub's message to its workers naming the wanted metrics
WANTED = b"W"


def publish(
    bus: EventBus, server_id: str, rows: Sequence[tuple[int | None, float, Readings]]
) -> None:
    """Hub side: `(row_id, ts, readings)` of committed snapshots -> `Relayed` events (a row id
    of None is a duplicate, announced when it was first stored)."""
    for row_id, ts, readings in rows:
        if row_id is not None:
            bus.publish(Relayed(row_id, Committed(server_id, ts, readings)))
