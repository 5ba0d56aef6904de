"""The event bus across processes and replicas: PostgreSQL `LISTEN/NOTIFY` (H10, SCALE-OUT).

Every hub process on PostgreSQL runs one `PgBridge`. It takes this process's own events off the
local bus (`SnapshotCommitted`, `Relayed` from its ingest workers, `AlertsChanged` from the
alert engine when it leads, `SettingsChanged`) and, every `FLUSH_SECONDS`, sends what gathered
as `NOTIFY` on one channel per database and schema (parallel test schemas never hear each
other). Payloads are ids, not data (`{"o": origin, "s": {server id: [row ids]}}`; alert
transitions are small and go whole): readers fetch rows from the store, so a notification stays
below PostgreSQL's 8000-byte limit and the database holds the truth. Notifications from other
processes come back on the local bus as `RemoteCommitted`, `AlertsChanged`, `SettingsChanged`;
a process ignores its own (`origin`).

SQLite (one machine, `make run`) needs none of this: ingest workers already relay to the hub
process. Why NOTIFY and not Redis or NATS: docs/architecture.md ("The event bus").
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
from fleetwatch.hub.events import (
    AlertsChanged,
    EventBus,
    RemoteCommitted,
    SettingsChanged,
    SnapshotCommitted,
)

log = logging.getLogger("fleetwatch.hub.bridge")
FLUSH_SECONDS = 0.05
#: ids per notification (each ~8 bytes of JSON: well under the 8000-byte payload limit)
IDS_PER_NOTIFY = 600
#: estimated bytes of rows per notification (the limit is 8000)
PAYLOAD_BUDGET = 7000
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


def payloads(
    origin: str,
    rows: dict[str, list[int]],
    alerts: list[dict[str, Any]],
    settings: list[str],
) -> list[str]:
    """Notifications for one batch: rows grouped by server, each under the 8000-byte limit."""
    out: list[str] = []
    chunk: dict[str, list[int]] = {}
    size = 0
    for server_id, ids in rows.items():
        for i in range(0, len(ids), IDS_PER_NOTIFY):
            part = ids[i : i + IDS_PER_NOTIFY]
            cost = len(server_id) + 6 + 11 * len(part)
            if chunk and size + cost > PAYLOAD_BUDGET:
                out.append(orjson.dumps({"o": origin, "s": chunk}).decode())
                chunk, size = {}, 0
            chunk.setdefault(server_id, []).extend(part)
            size += cost
    if chunk:
        out.append(orjson.dumps({"o": origin, "s": chunk}).decode())
    for i in range(0, len(alerts), ALERTS_PER_NOTIFY):
        out.append(orjson.dumps({"o": origin, "a": alerts[i : i + ALERTS_PER_NOTIFY]}).decode())
    if settings:
        out.append(orjson.dumps({"o": origin, "c": sorted(set(settings))[:100]}).decode())
    return [p for p in out if len(p.encode()) < 8000]


class PgBridge:
    def __init__(self, bus: EventBus, database_url: str) -> None:
        self.bus = bus
        self.url = conninfo(database_url)
        self.channel = channel_for(database_url)
        self.origin = uuid.uuid4().hex[:12]
        self.sent = 0
        self.received = 0
        types = (SnapshotCommitted, Relayed, AlertsChanged, SettingsChanged)
        self._sub = bus.subscribe("bridge", types, 100_000)
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

    def _take(self) -> list[str]:
        rows: dict[str, list[int]] = {}
        alerts: list[dict[str, Any]] = []
        settings: list[str] = []
        for event in self._sub.drain(100_000):
            if isinstance(event, SnapshotCommitted):
                rows.setdefault(event.server_id, []).append(event.row_id)
            elif isinstance(event, Relayed):
                rows.setdefault(event.server_id, []).extend(row[0] for row in event.rows)
            elif isinstance(event, AlertsChanged) and not isinstance(event, _Echo):
                alerts.extend({"k": e.kind, "a": dict(e.alert)} for e in event.events)
            elif isinstance(event, SettingsChanged) and not isinstance(event, _EchoSettings):
                settings.extend(event.keys)
        return payloads(self.origin, rows, alerts, settings)

    async def _send_loop(self) -> None:
        query = sql.SQL("SELECT pg_notify({}, %s)").format(sql.Literal(self.channel))
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as c:
                    while True:
                        await asyncio.sleep(FLUSH_SECONDS)
                        for payload in self._take():
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
        rows = message.get("s")
        if isinstance(rows, dict):
            ids = tuple(i for v in rows.values() if isinstance(v, list) for i in v
                        if isinstance(i, int))  # fmt: skip
            self.bus.publish(RemoteCommitted(ids, tuple(str(k) for k in rows)))
        keys = message.get("c")
        if isinstance(keys, list):
            self.bus.publish(_EchoSettings(tuple(str(k) for k in keys)))
        alerts = message.get("a")
        if isinstance(alerts, list):
            events = tuple(RemoteAlert(str(a.get("k")), dict(a.get("a") or {})) for a in alerts)
            self.bus.publish(_Echo(events))


class _Echo(AlertsChanged):
    """Alert transitions that came from another process (never sent on again)."""


class _EchoSettings(SettingsChanged):
    """A settings change another process made (never sent on again)."""


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
