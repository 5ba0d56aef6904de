"""Worker -> hub: what the alert engine and the overview need of each snapshot a worker stored.

The elected leader (the hub process) evaluates alerts. Without this relay it would read every
snapshot an ingest worker committed back from the store and decode it, which cost the hub
process more CPU than ingesting it had. Instead each worker, right after its commits, reads the
alertable metrics of the snapshots it has in hand (`alerts.metrics.METRICS`, a few
microseconds each) and sends them to the hub in batches over its channel. The hub publishes them
on its event bus as `Relayed` events: the engine takes them like its own snapshots, and the
overview pushes the servers that reported.

Best effort by design: a batch the channel cannot take at once is dropped, and the engine then
reads those rows from the store as before (`alerts/feed.py`), so nothing is ever missed.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
from collections.abc import Callable
from typing import Any

import orjson

from fleetwatch.hub.alerts.feed import Committed, Relayed
from fleetwatch.hub.alerts.metrics import METRICS, Reading
from fleetwatch.hub.events import EventBus, SnapshotCommitted

log = logging.getLogger("fleetwatch.hub.dispatch")

#: snapshots per message, and how often a worker looks for committed snapshots
BATCH = 200
TICK_SECONDS = 0.02
#: one entry: (row_id, server_id, ts, readings)
Entry = tuple[int, str, float, dict[str, Reading]]


class Wanted:
    """The metrics some alert rule watches, as the hub last told this worker (`WANTED` +
    JSON list); every alertable metric until it did. Reading only these is what the engine
    does for its own snapshots; all of them cost ~30 us per snapshot."""

    def __init__(self) -> None:
        self.names: frozenset[str] | None = None

    def update(self, message: bytes) -> None:
        self.names = frozenset(orjson.loads(message[len(WANTED) :]))

    def readers(self) -> list[tuple[str, Callable[[Any], Reading]]]:
        return [
            (name, spec.read)
            for name, spec in METRICS.items()
            if spec.read is not None and (self.names is None or name in self.names)
        ]


#: prefix of the hub's message to its workers naming the wanted metrics
WANTED = b"W"


async def relay(bus: EventBus, channel: socket.socket, wanted: Wanted) -> None:
    """Worker side: forward the readings of every committed snapshot until cancelled."""
    sub = bus.subscribe("relay", (SnapshotCommitted,), maxsize=50_000)
    dropped = 0
    try:
        while True:
            events: list[SnapshotCommitted] = sub.drain(BATCH)
            if not events:
                await asyncio.sleep(TICK_SECONDS)
                continue
            readers = wanted.readers()
            batch: list[Entry] = [
                (ev.row_id, ev.server_id, ev.ts, {n: read(ev.snapshot) for n, read in readers})
                for ev in events
            ]
            try:
                channel.send(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
            except OSError:  # full (the hub is busy) or closed: the store has them
                dropped += len(batch)
                if dropped % 1000 < len(batch):
                    log.debug("relay: %d snapshots left to the store so far", dropped)
    finally:
        bus.unsubscribe(sub)


def receiver(bus: EventBus) -> Callable[[bytes], None]:
    """Hub side: a channel message (a relayed batch) -> `Relayed` events on `bus`."""

    def on_message(message: bytes) -> None:
        try:
            batch: list[Entry] = pickle.loads(message)  # our own worker's bytes, never a client's
        except Exception:
            log.warning("relay: an unreadable message of %d bytes was ignored", len(message))
            return
        for row_id, server_id, ts, readings in batch:
            bus.publish(Relayed(row_id, Committed(server_id, ts, readings)))

    return on_message
