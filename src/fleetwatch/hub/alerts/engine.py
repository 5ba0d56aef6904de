"""The alert engine: evaluates rules on every committed snapshot, and on a timer for the
conditions no snapshot reports (offline servers, disk-full forecasts; `timers.py`).

Every hub process builds an engine (the API reads its rules and windows), but only the elected
leader (`hub/leader.py`) runs its loops (`lead()`). The leader evaluates the snapshots it
committed itself straight from the `SnapshotCommitted` events of its bus (the validated model:
nothing is read back or decoded), and reads from the store only the snapshots other hub
processes committed (`feed.py`), so every snapshot is evaluated exactly once and ingest never
waits for it. Evaluation is in memory (`evaluation.py`, `rules.py`); only transitions touch the
database (one writer job per batch). Rules, maintenance windows and acknowledgements changed
by other processes are picked up on every timer tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, select

from fleetwatch.hub.alerts import timers
from fleetwatch.hub.alerts.catalog import rule_from_row
from fleetwatch.hub.alerts.evaluation import Evaluator, server_info
from fleetwatch.hub.alerts.feed import Committed, Relayed, SnapshotFeed
from fleetwatch.hub.alerts.maintenance import from_fields, silenced
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.alerts.relayfilter import RelayFilter, relay_filter
from fleetwatch.hub.alerts.rules import ConditionState
from fleetwatch.hub.alerts.state import AlertEvent, Change, apply_changes, load_open
from fleetwatch.hub.events import AlertsChanged, EventBus, SnapshotCommitted, Subscription
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_alerts import alert_rules, maintenance_windows

log = logging.getLogger("fleetwatch.hub.alerts")
#: events evaluated between two yields to the event loop
CHUNK = 200
#: local events queued for the engine at most (each holds a snapshot model); beyond that they
#: are dropped and their rows read back from the store instead
QUEUE_MAX = 5000


class Sink(Protocol):
    def submit(self, events: list[AlertEvent]) -> None: ...


class AlertEngine(Evaluator):
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        sink: Sink,
        *,
        clock: Callable[[], float] = time.time,
        check_interval_seconds: float = 15.0,
        forecast_interval_seconds: float = 900.0,
        server_cache_seconds: float = 30.0,
        poll_seconds: float = 0.25,
        tick_seconds: float = 0.05,
    ) -> None:
        super().__init__()
        self.db, self.bus, self.sink, self.clock = db, bus, sink, clock
        self.check_interval = check_interval_seconds
        self.server_cache_seconds = server_cache_seconds
        self.poll_seconds = poll_seconds
        self.tick_seconds = tick_seconds
        self.feed = SnapshotFeed()
        self.rota = timers.ForecastRota(forecast_interval_seconds, check_interval_seconds)
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._events: Subscription | None = None
        self._all_servers_read = False  # since it leads (the relay filter needs them)
        #: called before each timer check (refreshes the dashboard defaults)
        self.before_check: Callable[[], Awaitable[None]] | None = None
        #: every server's health score now (set by the hub: `services/alerts.py`)
        self.health_of: Callable[[], Awaitable[dict[str, float]]] | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load rules and windows (every process: the API reads them)."""
        await self.reload()

    async def lead(self) -> None:
        """Run the loops (the elected leader only): restore open alerts, follow snapshots."""
        if self._tasks:
            return
        await self.reload()
        rows = await self.db.read(load_open)
        async with self._lock:
            self.states.clear()
            self.open_ids.clear()
            self.acknowledged.clear()
            self.last_ts.clear()
            for row in rows:
                m = row._mapping
                states = self.states.setdefault(m["server_id"], {})
                st = states.setdefault(m["key"], ConditionState())
                st.level, st.value = m["level"], m["value"]
                st.since = {m["level"]: m["fired_at"]}
                st.last_notified_at = m["notified_at"]
                st.open_notified = bool(m["notify_count"])
                self.open_ids[(m["server_id"], m["key"])] = int(m["id"])
                if m["state"] == "acknowledged":
                    self.acknowledged.add(int(m["id"]))
        await self.db.read(self.feed.start)
        now = self.clock()
        for row in await self.db.read(timers.load_servers):
            self.remember_server(row.id, server_info(row, now))
        self._all_servers_read = True
        self._events = self.bus.subscribe("alerts", (SnapshotCommitted, Relayed), QUEUE_MAX)
        self._tasks = [
            asyncio.create_task(self._follow(), name="alerts-follow"),
            asyncio.create_task(self._timer(), name="alerts-timer"),
        ]

    async def stop(self) -> None:
        """Stop the loops (idempotent); the engine can `lead()` again later."""
        tasks, self._tasks = self._tasks, []
        self._all_servers_read = False
        if self._events is not None:
            self.bus.unsubscribe(self._events)
            self._events = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def leading(self) -> bool:
        return bool(self._tasks)

    async def reload(self) -> None:
        """Re-read rules and maintenance windows (after an API change)."""

        def load(conn: Connection) -> tuple[list[Any], list[Any]]:
            return (
                list(conn.execute(select(alert_rules))),
                list(conn.execute(select(maintenance_windows))),
            )

        rule_rows, window_rows = await self.db.read(load)
        windows = []
        for r in window_rows:
            fields = dict(r._mapping)
            fields["weekdays"] = orjson.loads(fields["weekdays"]) if fields["weekdays"] else None
            windows.append(from_fields(fields))
        self.set_rules([rule_from_row(r._mapping) for r in rule_rows], windows)

    def mark_acknowledged(self, alert_id: int) -> None:
        self.acknowledged.add(alert_id)

    # --- snapshot evaluation ------------------------------------------------------------

    def _local(
        self, events: list[SnapshotCommitted | Relayed], seen: dict[str, float]
    ) -> list[Committed]:
        """This process's committed snapshots and those its ingest workers relayed
        (`SnapshotFeed.take`)."""
        readers = [(m, read) for m in self.wanted() if (read := METRICS[m].read) is not None]
        return self.feed.take(events, seen, readers, self.in_trouble)

    async def _follow(self) -> None:
        next_poll = 0.0
        while True:
            batch: list[Committed] = []
            full = False
            seen: dict[str, float] = {}
            try:
                sub = self._events
                events = sub.drain(self.feed.batch_rows) if sub is not None else []
                full = len(events) >= self.feed.batch_rows
                batch = self._local(events, seen)
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + self.poll_seconds
                    batch += await self._foreign()
                if batch:
                    await self.process(batch)
            except Exception:  # the loop must survive anything one batch does
                log.exception("alert evaluation failed for %d snapshots", len(batch))
            self.note_seen(seen)  # after the batch's own snapshots, whatever they did
            await asyncio.sleep(0 if full else self.tick_seconds)

    def relay_filter(self) -> RelayFilter:
        """What the ingest workers are to relay (`alerts/relayfilter.py`): bounded only while
        this engine leads and has read every server."""
        return relay_filter(self, self.leading and self._all_servers_read)

    async def _foreign(self) -> list[Committed]:
        """Snapshots other hub processes committed (read back from the store)."""
        asked = self.feed.plan()
        poll = functools.partial(self.feed.poll, ids=asked, metrics=self.wanted())
        return self.feed.settle(asked, await self.db.read(poll))

    async def process(self, events: list[Committed]) -> list[AlertEvent]:
        async with self._lock:
            await self._ensure_servers({e.server_id for e in events})
            changes: list[Change] = []
            for i, ev in enumerate(events):
                if i and not i % CHUNK:
                    await asyncio.sleep(0)  # long batches never hold up requests
                changes += self.evaluate_snapshot(ev.server_id, ev.ts, ev.readings)
            return await self._commit(changes)

    async def _ensure_servers(self, ids: set[str]) -> None:
        now = self.clock()
        stale = [
            i
            for i in ids
            if i not in self.servers or now - self.servers[i].fetched_at > self.server_cache_seconds
        ]
        if not stale:
            return

        def load(conn: Connection) -> list[Any]:
            cols = (servers.c.id, servers.c.hostname, servers.c.display_name,
                    servers.c.group_name, servers.c.thresholds)  # fmt: skip
            return list(conn.execute(select(*cols).where(servers.c.id.in_(stale))))

        for row in await self.db.read(load):
            self.remember_server(row.id, server_info(row, now))

    async def _commit(self, changes: list[Change]) -> list[AlertEvent]:
        if not changes:
            return []
        before = dict(self.open_ids)

        def job(conn: Connection) -> tuple[list[AlertEvent], dict[tuple[str, str], int]]:
            work = dict(before)  # copied per run: the writer may run a job twice
            return apply_changes(conn, changes, work), work

        events, self.open_ids = await self.db.write(job)
        for ev in events:
            if ev.kind == "resolved":
                self.acknowledged.discard(int(ev.alert["id"]))
        self.sink.submit(events)
        if events:
            self.bus.publish(AlertsChanged(tuple(events)))
        return events

    # --- timer: offline and forecasts ---------------------------------------------------

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            try:
                await self.sync_from_store()
                await self.check_timers()
            except Exception:
                log.exception("alert timer check failed")

    async def sync_from_store(self) -> None:
        """Pick up what other hub processes changed: rules, windows, acknowledgements."""
        await self.reload()
        rows = await self.db.read(load_open)
        acknowledged = {
            int(r._mapping["id"]) for r in rows if r._mapping["state"] == "acknowledged"
        }
        async with self._lock:
            self.acknowledged = acknowledged

    async def check_timers(self, now: float | None = None) -> list[AlertEvent]:
        now = self.clock() if now is None else now
        if self.before_check is not None:
            await self.before_check()
        rows = await self.db.read(timers.load_servers)
        infos = {row.id: server_info(row, now) for row in rows}
        wants = [s for s, info in infos.items() if self.rules_of(s, info).get("disk_full_days")]
        scores: dict[str, float] = {}
        if self.health_of is not None and any(
            self.rules_of(s, info).get("health_score") for s, info in infos.items()
        ):
            scores = await self.health_of()
        due = self.rota.due(wants, now)
        results: dict[str, list[dict[str, Any]]] = {}
        if due:
            results = await self.db.read(functools.partial(timers.forecasts_of, ids=due, now=now))
        async with self._lock:
            changes: list[Change] = []
            for row in rows:
                self.remember_server(row.id, infos[row.id])
                info = self.servers[row.id]
                by_metric = self.rules_of(row.id, info)
                quiet = silenced(self.windows, row.id, info.group, now)
                ch = timers.offline_change(self, row, info, by_metric, now, quiet)
                changes += [ch] if ch else []
                if row.id in results:
                    changes += timers.forecast_changes(
                        self, row.id, info, by_metric["disk_full_days"], results[row.id], now,
                        quiet,
                    )  # fmt: skip
                if scores:
                    changes += timers.health_changes(
                        self, row.id, info, by_metric.get("health_score", []),
                        scores.get(row.id), now, quiet,
                    )  # fmt: skip
            return await self._commit(changes)
