"""The stream's fan-out: event bus in, one encoded message per event and filter, clients out.

While at least one client is connected the broker subscribes to the bus (`SnapshotCommitted`
from this process's writer, `Relayed` row ids from its ingest workers, `RemoteCommitted` row
ids from other processes and replicas, `AlertsChanged` from the alert engine). Each snapshot is
turned into seed 004's `monitoring_data` once per distinct set of families the clients asked
for, and the same string is queued for every client that wants it; `clients.StreamClient`
takes it from there. Nothing here awaits a client: a queue is full or it is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import msgspec
from sqlalchemy import Connection, select

from fleetwatch import __version__
from fleetwatch.hub.alerts.feed import Relayed
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.events import (
    AlertsChanged,
    EventBus,
    LiveCommitted,
    RemoteCommitted,
    SnapshotCommitted,
    Subscription,
)
from fleetwatch.hub.store import codec, tables
from fleetwatch.hub.stream import logtail, messages
from fleetwatch.hub.stream.clients import Message, StreamClient, StreamLimits

log = logging.getLogger("fleetwatch.hub.stream")
KEY = "stream.broker"
#: server id -> group is re-read this often (and when an unknown server reports)
GROUPS_SECONDS = 30.0
BATCH = 500
#: event-loop time one flush round may take; then the loop is left to others PUMP_SECONDS
FLUSH_BUDGET = 0.010
PUMP_SECONDS = 0.020

Doc = dict[str, Any]


def view_doc(view: Any) -> Doc:
    """A committed snapshot (msgspec twin or pydantic model) as its JSON document."""
    if isinstance(view, msgspec.Struct):
        doc: Doc = msgspec.to_builtins(view)
        return doc
    dumped: Doc = view.model_dump(mode="json")
    return dumped


def _read_docs(conn: Connection, ids: list[int]) -> list[tuple[str, float, Doc]]:
    s = tables.snapshots
    query = select(s.c.id, s.c.server_id, s.c.ts, s.c.detail).where(s.c.id.in_(ids))
    out = []
    for row in conn.execute(query.order_by(s.c.id)):
        with contextlib.suppress(ValueError, TypeError, KeyError):
            out.append((str(row.server_id), float(row.ts), codec.unpack(row.detail)))
    return out


def _read_groups(conn: Connection) -> dict[str, str | None]:
    s = tables.servers
    return {str(r.id): r.group_name for r in conn.execute(select(s.c.id, s.c.group_name))}


class StreamBroker:
    def __init__(self, ctx: HubContext, limits: StreamLimits | None = None) -> None:
        self.ctx = ctx
        self.limits = limits or StreamLimits()
        self.clients: dict[int, StreamClient] = {}
        self.started_at = time.time()
        self.messages_queued = 0
        self._groups: dict[str, str | None] = {}
        self._groups_at = 0.0
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._tail: asyncio.Task[None] | None = None
        self._cursor = 0

    @property
    def bus(self) -> EventBus:
        bus: EventBus = self.ctx.extras.setdefault("events", EventBus())
        return bus

    def add(self, client: StreamClient) -> None:
        self.clients[client.id] = client
        if self._task is None:
            types = (SnapshotCommitted, Relayed, RemoteCommitted, AlertsChanged, LiveCommitted)
            self._sub = self.bus.subscribe("stream", types, maxsize=50_000)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="stream")
            self._tail = asyncio.get_running_loop().create_task(logtail.run(self), name="logtail")

    async def remove(self, client: StreamClient) -> None:
        self.clients.pop(client.id, None)
        if not self.clients and self._task is not None:
            tasks = [t for t in (self._task, self._tail) if t is not None]
            self._task = self._tail = None
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._sub is not None:
                self.bus.unsubscribe(self._sub)
                self._sub = None

    async def status(self) -> dict[str, Any]:
        known = len(await self._group_map(force=True))
        return {
            "type": "status",
            "server_version": __version__,
            "connected_clients": len(self.clients),
            "server_start_time": messages.iso(self.ctx.started_at),
            "uptime_seconds": round(time.time() - self.ctx.started_at, 1),
            "servers_known": known,
            "message": "Server is running",
        }

    async def group_map(self, force: bool = False) -> dict[str, str | None]:
        """Server id -> group name (re-read at most every `GROUPS_SECONDS` unless `force`)."""
        return await self._group_map(force)

    async def _group_map(self, force: bool = False) -> dict[str, str | None]:
        now = time.monotonic()
        if force or now - self._groups_at >= GROUPS_SECONDS:
            self._groups = await self.ctx.db.read(_read_groups)
            self._groups_at = now
        return self._groups

    async def _run(self) -> None:
        assert self._sub is not None
        sub = self._sub
        waiting = False  # some client still has messages to write
        while True:
            events: list[object] = []
            try:
                async with asyncio.timeout(PUMP_SECONDS if waiting else 1.0):
                    events = [await sub.get(), *sub.drain(BATCH)]
            except TimeoutError:
                pass
            if events:
                try:
                    await self.handle(events)
                except Exception:  # the stream must outlive any one bad event
                    log.exception("stream: could not fan out a batch of events")
            try:
                within_budget = self._flush()
                self._check_slow()
            except Exception:  # as above: one broken client must not stop the stream
                log.exception("stream: could not flush the clients")
                within_budget = False
            waiting = any(client.pending for client in self.clients.values())
            if not within_budget:
                await asyncio.sleep(PUMP_SECONDS)  # the loop is ingest's first

    def _flush(self) -> bool:
        """One flush round: clients in turn, from where the last round stopped, for at most
        `FLUSH_BUDGET` s of the event loop; False when it stopped short (those it did not
        reach are behind, so newer snapshots replace what waits for them)."""
        clients = [c for c in self.clients.values() if c.pending]
        if not clients:
            return True
        started = time.monotonic()
        first = self._cursor % len(clients)
        order = clients[first:] + clients[:first]
        for done, client in enumerate(order, 1):
            client.flush(started)
            if done % 16 == 0 and time.monotonic() - started > FLUSH_BUDGET:
                for skipped in order[done:]:
                    skipped.check_lag(started)
                self._cursor = first + done
                return False
        return True

    def _check_slow(self) -> None:
        now = time.monotonic()
        for client in list(self.clients.values()):
            client.check_slow(now)

    async def handle(self, events: Iterable[object]) -> None:
        snapshots: list[tuple[str, float, Doc]] = []
        row_ids: list[int] = []
        for event in events:
            if isinstance(event, SnapshotCommitted):
                snapshots.append((event.server_id, event.ts, view_doc(event.snapshot)))
            elif isinstance(event, Relayed):
                row_ids.extend(row[0] for row in event.rows)
            elif isinstance(event, RemoteCommitted):
                row_ids.extend(event.row_ids)
            elif isinstance(event, AlertsChanged):
                await self._alerts(event)
            elif isinstance(event, LiveCommitted):
                await self._live(event)
        if row_ids:
            snapshots += await self.ctx.db.read(lambda conn: _read_docs(conn, row_ids))
        if snapshots:
            await self._snapshots(snapshots)

    async def _snapshots(self, snapshots: list[tuple[str, float, Doc]]) -> None:
        groups = await self._group_map()
        if any(server_id not in groups for server_id, _, _ in snapshots):
            groups = await self._group_map(force=True)
        now = time.monotonic()
        for server_id, ts, doc in snapshots:
            group = groups.get(server_id)
            encoded: dict[tuple[str, ...], Message] = {}
            for client in list(self.clients.values()):
                wanted = client.filter
                if wanted is None or not wanted.key or not wanted.wants_server(server_id, group):
                    continue
                if not client.due(server_id, now):
                    continue
                message = encoded.get(wanted.key)
                if message is None:
                    message = encoded[wanted.key] = Message(
                        messages.monitoring_data(server_id, ts, doc, wanted.key), server_id
                    )
                client.offer(message)
                self.messages_queued += 1

    async def _live(self, event: LiveCommitted) -> None:
        wanting = [c for c in self.clients.values()
                   if c.filter is not None and messages.LIVE in c.filter.families]  # fmt: skip
        if not wanting:
            return
        groups = await self._group_map()
        server_id, message = event.server_id, None
        for client in wanting:
            assert client.filter is not None
            if client.filter.wants_server(server_id, groups.get(server_id)):
                if message is None:
                    sample = codec.unpack(event.detail)
                    text = messages.live_data(server_id, event.ts, sample)
                    message = Message(text, f"live:{server_id}")
                client.offer(message)
                self.messages_queued += 1

    async def _alerts(self, event: AlertsChanged) -> None:
        groups = await self._group_map()
        for change in event.events:
            server_id = str(change.alert.get("server_id") or "")
            message = Message(messages.alert(change.kind, change.alert))
            for client in list(self.clients.values()):
                wanted = client.filter
                if wanted is None or "alerts" not in wanted.families:
                    continue
                if wanted.wants_server(server_id, groups.get(server_id)):
                    client.offer(message)
                    self.messages_queued += 1


def broker_of(ctx: HubContext) -> StreamBroker:
    broker: StreamBroker | None = ctx.extras.get(KEY)
    if broker is None:
        broker = ctx.extras[KEY] = StreamBroker(ctx, limits_of(ctx))
    return broker


def limits_of(ctx: HubContext) -> StreamLimits:
    s = ctx.settings
    return StreamLimits(
        queue_max=s.stream_queue_max,
        slow_seconds=s.stream_slow_seconds,
        max_frame_bytes=s.stream_max_frame_bytes,
        max_clients=s.stream_max_clients,
    )
