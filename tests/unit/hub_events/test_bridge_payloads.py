"""The bridge's notifications: under PostgreSQL's 8000-byte limit however big the batch, and
read back on another process's bus as the same rows, alerts and settings (never our own)."""

from __future__ import annotations

import asyncio

import orjson

from fleetwatch.hub.bridge import PgBridge, payloads
from fleetwatch.hub.events import AlertsChanged, EventBus, RemoteCommitted, SettingsChanged

SERVERS = {f"{i:08d}-0000-0000-0000-000000000000": list(range(i * 10_000, i * 10_000 + 50))
           for i in range(300)}  # fmt: skip


def test_a_big_batch_is_split_under_the_limit_and_loses_nothing() -> None:
    alerts = [{"k": "fired", "a": {"id": i, "message": "x" * 200}} for i in range(12)]
    out = payloads("me", SERVERS, alerts, ["stale_threshold_minutes"])
    assert len(out) > 3 and all(len(p.encode()) < 8000 for p in out)
    rows: dict[str, list[int]] = {}
    seen_alerts = []
    for p in out:
        message = orjson.loads(p)
        for server_id, ids in message.get("s", {}).items():
            rows.setdefault(server_id, []).extend(ids)
        seen_alerts += message.get("a", [])
    assert rows == SERVERS and seen_alerts == alerts


def test_notifications_come_back_as_events_except_our_own() -> None:
    async def scenario() -> list[object]:
        bus = EventBus()
        listener = bus.subscribe("t", (RemoteCommitted, AlertsChanged, SettingsChanged), 100)
        bridge = PgBridge(bus, "postgresql://x@127.0.0.1/db")
        mine = payloads(bridge.origin, {"s1": [1]}, [], [])
        theirs = payloads("other", {"s1": [1, 2], "s2": [3]}, [{"k": "resolved", "a": {"id": 9}}],
                          ["raw_retention_hours"])  # fmt: skip
        for p in [*mine, *theirs, "not json"]:
            bridge._deliver(p)
        return listener.drain(100)

    events = asyncio.run(scenario())
    remote = [e for e in events if isinstance(e, RemoteCommitted)]
    assert [(r.row_ids, r.server_ids) for r in remote] == [((1, 2, 3), ("s1", "s2"))]
    alerts = [e for e in events if isinstance(e, AlertsChanged)]
    assert [(a.kind, a.alert["id"]) for ev in alerts for a in ev.events] == [("resolved", 9)]
    assert [e.keys for e in events if isinstance(e, SettingsChanged)] == [("raw_retention_hours",)]
