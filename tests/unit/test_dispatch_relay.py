"""The worker -> hub relay of alert readings (`hub/dispatch/relay.py`), over a real socket pair."""

from __future__ import annotations

import asyncio
import socket

import orjson

from factories import make_snapshot
from fleetwatch.hub.alerts.feed import Relayed
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.dispatch.relay import WANTED, Wanted, receiver, relay
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


def test_committed_snapshots_arrive_on_the_hub_bus_as_relayed_readings() -> None:
    async def scenario() -> list[Relayed]:
        worker_end, hub_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        worker_end.setblocking(False)
        worker_bus, hub_bus = EventBus(), EventBus()
        got = hub_bus.subscribe("test", (Relayed,))
        wanted = Wanted()
        wanted.update(WANTED + orjson.dumps(["cpu_percent"]))
        task = asyncio.create_task(relay(worker_bus, worker_end, wanted))
        await asyncio.sleep(0)  # the relay subscribes
        for row_id, cpu in ((7, 91.5), (8, 12.0)):
            worker_bus.publish(committed(row_id, cpu))
        hub_end.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            message = await asyncio.wait_for(loop.sock_recv(hub_end, 1 << 20), timeout=5)
        finally:
            task.cancel()
            worker_end.close()
            hub_end.close()
        receiver(hub_bus)(message)
        return got.drain(10)

    events = asyncio.run(scenario())
    assert [e.row_id for e in events] == [7, 8]
    assert [e.server_id for e in events] == ["srv-1", "srv-1"]
    assert events[0].committed.readings == {"cpu_percent": [(None, 91.5)]}
    assert events[1].committed.ts == 1008.0


def test_an_unreadable_message_is_ignored() -> None:
    bus = EventBus()
    got = bus.subscribe("test")
    receiver(bus)(b"\x80not a pickle")
    assert got.drain(10) == []
