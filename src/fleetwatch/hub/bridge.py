"""The event bus across processes and replicas: PostgreSQL `LISTEN/NOTIFY` (H10, SCALE-OUT).

Every hub process on PostgreSQL runs one `PgBridge`. It takes this process's own events off the
local bus (`SnapshotCommitted`, `Relayed` from its ingest workers, `AlertsChanged` from the
alert engine when it leads) and, every `FLUSH_SECONDS`, sends what gathered as `NOTIFY` on one
channel per database and schema (parallel test schemas never hear each other). Payloads are
ids, not data (`{"o": origin, "s": [row ids]}`; alert transitions are small and go whole):
readers fetch rows from the store, so a notification stays far below PostgreSQL's 8000-byte
limit and the database holds the truth. Notifications from other processes come back as
`RemoteCommitted` / `AlertsChanged` on the local bus; a process ignores its own (`origin`).

SQLite (one machine, `make run`) needs none of this: ingest workers already relay to the hub
process. Why NOTIFY and not Redis or NATS: it needs nothing beyond the database the replicas
already share, and at one NOTIFY per 50 ms batch it costs the database ~0.1 ms per batch
(docs/architecture.md, bench/stream.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql

from fleetwatch.hub.alerts.feed import Relayed
from fleetwatch.hub.events import AlertsChanged, EventBus, RemoteCommitted, SnapshotCommitted

log = logging.getLogger("fleetwatch.hub.bridge")
FLUSH_SECONDS = 0.05
#: ids per notification (each ~8 bytes of JSON: well under the 8000-byte payload limit)
IDS_PER_NOTIFY = 700
ALERTS_PER_NOTIFY = 5
RECONNECT_SECONDS = 2.0


@dataclass(frozen=True)
class RemoteAlert:
    """An alert transition another process committed (an `AlertChangeView`)."""

    kind: str
    alert: dict[str, Any]


def channel_for(database_url: str) -> str:
    """One channel per database and search path: what the replicas of one hub share."""
    return "fleetwatch_" + hashlib.sha256(database_url.encode()).hexdigest()[:16]


def conninfo(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def payloads(origin: str, row_ids: list[int], alerts: list[dict[str, Any]]) -> list[str]:
    out = []
    for i in range(0, len(row_ids), IDS_PER_NOTIFY):
        out.append(orjson.dumps({"o": origin, "s": row_ids[i : i + IDS_PER_NOTIFY]}).decode())
    for i in range(0, len(alerts), ALERTS_PER_NOTIFY):
        out.append(orjson.dumps({"o": origin, "a": alerts[i : i + ALERTS_PER_NOTIFY]}).decode())
    return [p for p in out if len(p.encode()) < 8000]


class PgBridge:
    def __init__(self, bus: EventBus, database_url: str) -> None:
        self.bus = bus
        self.url = conninfo(database_url)
        self.channel = channel_for(database_url)
        self.origin = uuid.uuid4().hex[:12]
        self.sent = 0
        self.received = 0
        self._sub = bus.subscribe("bridge", (SnapshotCommitted, Relayed, AlertsChanged), 100_000)
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="bridge-send"),
            asyncio.create_task(self._listen_loop(), name="bridge-listen"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.bus.unsubscribe(self._sub)

    def _take(self) -> tuple[list[int], list[dict[str, Any]]]:
        row_ids: list[int] = []
        alerts: list[dict[str, Any]] = []
        for event in self._sub.drain(100_000):
            if isinstance(event, SnapshotCommitted):
                row_ids.append(event.row_id)
            elif isinstance(event, Relayed):
                row_ids.extend(row[0] for row in event.rows)
            elif isinstance(event, AlertsChanged) and not isinstance(event, _Echo):
                alerts.extend({"k": e.kind, "a": dict(e.alert)} for e in event.events)
        return row_ids, alerts

    async def _send_loop(self) -> None:
        query = sql.SQL("SELECT pg_notify({}, %s)").format(sql.Literal(self.channel))
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as c:
                    while True:
                        await asyncio.sleep(FLUSH_SECONDS)
                        row_ids, alerts = self._take()
                        for payload in payloads(self.origin, row_ids, alerts):
                            await c.execute(query, (payload,))
                            self.sent += 1
            except (psycopg.Error, OSError) as exc:
                log.warning("bridge: cannot notify (%s); retrying", exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_loop(self) -> None:
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as c:
                    await c.execute(listen)
                    self.listening.set()
                    async for note in c.notifies():
                        self._deliver(note.payload)
            except (psycopg.Error, OSError) as exc:
                self.listening.clear()
                log.warning("bridge: listener lost (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    def _deliver(self, payload: str) -> None:
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(message, dict) or message.get("o") == self.origin:
            return
        self.received += 1
        ids = message.get("s")
        if isinstance(ids, list):
            self.bus.publish(RemoteCommitted(tuple(int(i) for i in ids if isinstance(i, int))))
        alerts = message.get("a")
        if isinstance(alerts, list):
            events = tuple(RemoteAlert(str(a.get("k")), dict(a.get("a") or {})) for a in alerts)
            self.bus.publish(_Echo(events))


class _Echo(AlertsChanged):
    """Alert transitions that came from another process (never sent on again)."""


BRIDGE_KEY = "events.bridge"


async def start_bridge(ctx: Any) -> PgBridge | None:
    """The bridge of a hub process on PostgreSQL (None on SQLite)."""
    if ctx.db.dialect != "postgresql":
        return None
    bus: EventBus = ctx.extras.setdefault("events", EventBus())
    bridge = PgBridge(bus, ctx.settings.resolved_database_url)
    await bridge.start()
    ctx.extras[BRIDGE_KEY] = bridge
    return bridge
