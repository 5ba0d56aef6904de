"""The worker -> hub relay of alert readings (`hub/dispatch/relay.py`)."""

from __future__ import annotations

import orjson

from factories import make_snapshot
from fleetwatch.hub.alerts.feed import Relayed
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.dispatch.relay import WANTED, Wanted, publish
from fleetwatch.hub.events import EventBus, SnapshotCommitted
from fleetwatch.protocol.models import Snapshot


def committed(row_id: int, cpu: float) -> SnapshotCommitted:
    snap = Snapshot.model_validate(make_snapshot(metrics={"cpu_percent": cpu}))
    return SnapshotCommitted("srv-1", 1000.0 + row_id, snap, row_id)


def test_wanted_reads_every_alertable_metric_until_the_hub_names_some() -> None:
    wanted = Wanted()
    assert {name for name, _ in wanted.readers()} == {
        name for name, spec in METRICS.items() if spec.read is not None
    }
    wanted.update(WANTED + orjson.dumps(["cpu_percent", "disk_percent"]))
    assert [name for name, _ in wanted.readers()] == ["cpu_percent", "disk_percent"]


def test_committed_rows_are_published_as_relayed_readings_and_duplicates_are_not() -> None:
    bus = EventBus()
    got = bus.subscribe("test", (Relayed,))
    wanted = Wanted()
    wanted.update(WANTED + orjson.dumps(["cpu_percent"]))
    snaps = [committed(row_id, cpu).snapshot for row_id, cpu in ((7, 91.5), (8, 12.0), (9, 50.0))]
    readings = wanted.read(snaps)
    publish(
        bus,
        "srv-1",
        [(7, 1007.0, readings[0]), (None, 1008.0, readings[1]), (9, 1009.0, readings[2])],
    )
    events = got.drain(10)
    assert [e.row_id for e in events] == [7, 9]
    assert [e.server_id for e in events] == ["srv-1", "srv-1"]
    assert events[0].committed.readings == {"cpu_percent": [(None, 91.5)]}
    assert events[1].committed.ts == 1009.0
