"""The alert engine: evaluates rules on every committed snapshot, and on a timer for the
conditions no snapshot reports (offline servers, disk-full forecasts).

Every hub process builds an engine (the API reads its rules and windows), but only the elected
leader (`hub/leader.py`) runs its loops (`lead()`): it follows the `snapshots` table
(`feed.py`), so snapshots ingested by any process are evaluated exactly once, and ingest never
waits for it. Evaluation is in memory (`rules.py`) on readings (not whole models); a reading
that breaches nothing on a condition with no state is skipped without touching any state;
effective rules (dashboard defaults and per-server thresholds applied) are cached. Only
transitions touch the database (one writer job per batch). Rules, maintenance windows and
acknowledgements changed by other processes are picked up on every timer tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, select

from fleetwatch.hub.alerts import forecast
from fleetwatch.hub.alerts.catalog import rule_from_row
from fleetwatch.hub.alerts.feed import Committed, SnapshotFeed
from fleetwatch.hub.alerts.maintenance import MaintenanceWindow, from_fields, silenced
from fleetwatch.hub.alerts.metrics import METRICS, Reading, message
from fleetwatch.hub.alerts.rules import (
    ConditionState,
    Rule,
    apply_server_thresholds,
    evaluate,
    rules_for,
)
from fleetwatch.hub.alerts.rules import (
    select as select_rule,
)
from fleetwatch.hub.alerts.state import AlertEvent, Change, apply_changes, load_open
from fleetwatch.hub.events import EventBus
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_alerts import alert_rules, maintenance_windows

log = logging.getLogger("fleetwatch.hub.alerts")
SNAPSHOT_METRICS = tuple(m for m, spec in METRICS.items() if spec.source == "snapshot")
#: events evaluated between two yields to the event loop
CHUNK = 200


class Sink(Protocol):
    def submit(self, events: list[AlertEvent]) -> None: ...


@dataclass
class ServerInfo:
    name: str
    group: str | None
    thresholds: dict[str, Any] | None
    fetched_at: float
    #: rule -> the rule with the dashboard's and this server's thresholds applied
    effective: dict[Rule, Rule] = field(default_factory=dict)
    #: metric -> target -> the condition that governs it (None: no rule applies); built on
    #: first use from `effective`, dropped with it
    slots: dict[str, dict[str | None, Slot | None]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Slot:
    """One (metric, target) of one server, resolved once: its state key, its effective rule
    and what `_breaches` needs, so a reading that breaches nothing costs a lookup and two
    comparisons."""

    key: str
    rule: Rule
    above: bool
    warning: float | None
    critical: float | None

    def breaches(self, value: float) -> bool:
        """Does `value` reach a threshold (no hysteresis: nothing is firing)? Same as
        `_breaches(self.rule, value)`."""
        w, c = self.warning, self.critical
        if self.above:
            return (w is not None and value >= w) or (c is not None and value >= c)
        return (w is not None and value <= w) or (c is not None and value <= c)


def _server_info(row: Any, now: float) -> ServerInfo:
    m = row._mapping
    try:
        thresholds = orjson.loads(m["thresholds"]) if m["thresholds"] else None
    except orjson.JSONDecodeError:
        thresholds = None
    return ServerInfo(
        name=m["display_name"] or m["hostname"],
        group=m["group_name"],
        thresholds=thresholds if isinstance(thresholds, dict) else None,
        fetched_at=now,
    )


class AlertEngine:
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
    ) -> None:
        self.db, self.bus, self.sink, self.clock = db, bus, sink, clock
        self.check_interval = check_interval_seconds
        self.forecast_interval = forecast_interval_seconds
        self.server_cache_seconds = server_cache_seconds
        self.poll_seconds = poll_seconds
        self.feed = SnapshotFeed()
        self.rules: list[Rule] = []
        self.windows: list[MaintenanceWindow] = []
        self.servers: dict[str, ServerInfo] = {}
        self.states: dict[str, dict[str, ConditionState]] = {}
        self.open_ids: dict[tuple[str, str], int] = {}
        self.acknowledged: set[int] = set()
        self.last_ts: dict[str, float] = {}
        self.snapshots_evaluated = 0
        self._rule_cache: dict[tuple[str, str | None], dict[str, list[Rule]]] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_forecast = 0.0
        #: dashboard-wide thresholds (cpu_warning, ...) that built-in global rules follow
        self.default_thresholds: dict[str, Any] = {}
        #: seconds of silence after which a server is offline, from its interval (built-in rule)
        self.offline_after: Callable[[int | None], float] | None = None
        #: called before each timer check (refreshes the two above)
        self.before_check: Callable[[], Awaitable[None]] | None = None

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
        self._tasks = [
            asyncio.create_task(self._follow(), name="alerts-follow"),
            asyncio.create_task(self._timer(), name="alerts-timer"),
        ]

    async def stop(self) -> None:
        """Stop the loops (idempotent); the engine can `lead()` again later."""
        tasks, self._tasks = self._tasks, []
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
        self.rules = [rule_from_row(r._mapping) for r in rule_rows]
        windows = []
        for r in window_rows:
            fields = dict(r._mapping)
            fields["weekdays"] = orjson.loads(fields["weekdays"]) if fields["weekdays"] else None
            windows.append(from_fields(fields))
        self.windows = windows
        self._rule_cache.clear()
        for info in self.servers.values():  # refetched (thresholds too) before next use
            info.fetched_at = 0.0
            info.effective.clear()
            info.slots.clear()

    def mark_acknowledged(self, alert_id: int) -> None:
        self.acknowledged.add(alert_id)

    # --- snapshot evaluation ------------------------------------------------------------

    def _wanted(self) -> set[str]:
        """Snapshot metrics some enabled rule watches (nothing else is read)."""
        return {r.metric for r in self.rules if r.enabled and r.metric in SNAPSHOT_METRICS}

    async def _follow(self) -> None:
        while True:
            batch: list[Committed] = []
            try:
                wanted = self._wanted()
                batch = await self.db.read(functools.partial(self.feed.poll, metrics=wanted))
                if batch:
                    await self.process(batch)
            except Exception:  # the loop must survive anything one batch does
                log.exception("alert evaluation failed for %d snapshots", len(batch))
            full = len(batch) >= self.feed.batch_rows
            await asyncio.sleep(0 if full else self.poll_seconds)

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
            self.servers[row.id] = _server_info(row, now)

    def _rules_of(self, server_id: str, info: ServerInfo) -> dict[str, list[Rule]]:
        key = (server_id, info.group)
        cached = self._rule_cache.get(key)
        if cached is None:
            cached = self._rule_cache[key] = rules_for(self.rules, server_id, info.group)
        return cached

    def evaluate_snapshot(
        self, server_id: str, ts: float, readings: dict[str, Reading]
    ) -> list[Change]:
        info = self.servers.get(server_id)
        if info is None or ts < self.last_ts.get(server_id, 0.0):
            return []  # unknown server, or an old snapshot replayed from an agent's buffer
        self.last_ts[server_id] = ts
        self.snapshots_evaluated += 1
        by_metric = self._rules_of(server_id, info)
        states = self.states.setdefault(server_id, {})
        quiet: bool | None = None  # computed only when a condition needs it
        changes: list[Change] = []
        had_states = bool(states)  # none before: every state made below is `seen`
        seen: set[str] = set()
        for metric, reading in readings.items():
            if not reading or metric not in by_metric:
                continue
            slots = info.slots.get(metric)
            if slots is None:
                slots = info.slots[metric] = {}
            for target, value in reading:
                try:
                    slot = slots[target]
                except KeyError:
                    slot = slots[target] = self._slot(info, by_metric[metric], metric, target)
                if slot is None:
                    continue
                key = slot.key
                if had_states:
                    seen.add(key)
                if key not in states and (value is None or not slot.breaches(value)):
                    continue  # nothing pending, nothing firing, nothing to start: no state
                if quiet is None:
                    quiet = silenced(self.windows, server_id, info.group, ts)
                change = self._step(server_id, info, key, slot.rule, target, value, ts, quiet)
                if change is not None:
                    changes.append(change)
        if not had_states:
            if states:
                for key in [k for k, st in states.items() if _idle(st)]:
                    del states[key]
            return changes
        for key, st in list(states.items()):
            metric, _, target = key.partition("|")
            if key in seen or metric not in SNAPSHOT_METRICS:
                continue
            if st.level is None:
                del states[key]
                continue
            rule = select_rule(by_metric.get(metric, []), target or None)
            rule = rule or Rule(metric=metric, warning=None, critical=None)
            if quiet is None:
                quiet = silenced(self.windows, server_id, info.group, ts)
            rule = self._effective_rule(info, rule)
            change = self._step(server_id, info, key, rule, target or None, None, ts, quiet)
            if change is not None:
                changes.append(change)
        for key in [k for k, st in states.items() if _idle(st)]:
            del states[key]  # back to normal: forget it (the fast path above applies again)
        return changes

    def _slot(
        self, info: ServerInfo, candidates: list[Rule], metric: str, target: str | None
    ) -> Slot | None:
        rule = select_rule(candidates, target)
        if rule is None:
            return None
        rule = self._effective_rule(info, rule)
        above = rule.comparison == ">"
        return Slot(f"{metric}|{target or ''}", rule, above, rule.warning, rule.critical)

    def _effective_rule(self, info: ServerInfo, rule: Rule) -> Rule:
        """`rule` with the dashboard's default thresholds (built-in global rules) and the
        server's own thresholds applied; cached on the server's info (refetched regularly)."""
        found = info.effective.get(rule)
        if found is None:
            found = rule
            if found.builtin and found.scope == "global":
                found = apply_server_thresholds(found, self.default_thresholds)
            found = info.effective[rule] = apply_server_thresholds(found, info.thresholds)
        return found

    def _step(
        self,
        server_id: str,
        info: ServerInfo,
        key: str,
        rule: Rule,
        target: str | None,
        value: float | None,
        now: float,
        quiet: bool,
    ) -> Change | None:
        """Feed one reading to a condition; `rule` is already effective (`_effective_rule`)."""
        states = self.states.setdefault(server_id, {})
        st = states.get(key)
        if st is None:
            st = states[key] = ConditionState()
        alert_id = self.open_ids.get((server_id, key))
        if alert_id is not None and alert_id in self.acknowledged:
            rule = replace(rule, repeat_seconds=0.0)
        t = evaluate(rule, st, value, now, silenced=quiet)
        if t is None:
            return None
        spec = METRICS[rule.metric]
        shown = t.value if t.value is not None else 0.0
        text = message(spec, t.level or "WARNING", shown, t.threshold, target)
        return Change(server_id, info.name, key, rule.id, spec, target, t, now, text)

    async def _commit(self, changes: list[Change]) -> list[AlertEvent]:
        if not changes:
            return []
        work = dict(self.open_ids)
        events = await self.db.write(lambda conn: apply_changes(conn, changes, work))
        self.open_ids = work
        for ev in events:
            if ev.kind == "resolved":
                self.acknowledged.discard(int(ev.alert["id"]))
        self.sink.submit(events)
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

        def load(conn: Connection) -> list[Any]:
            return list(conn.execute(select(servers).with_only_columns(
                servers.c.id, servers.c.hostname, servers.c.display_name, servers.c.group_name,
                servers.c.thresholds, servers.c.last_seen, servers.c.created_at,
                servers.c.interval_seconds,
            )))  # fmt: skip

        rows = await self.db.read(load)
        do_forecast = now - self._last_forecast >= self.forecast_interval
        async with self._lock:
            changes: list[Change] = []
            for row in rows:
                info = self.servers[row.id] = _server_info(row, now)
                by_metric = self._rules_of(row.id, info)
                quiet = silenced(self.windows, row.id, info.group, now)
                offline = select_rule(by_metric.get("offline", []), None)
                if offline is not None:
                    if offline.builtin and self.offline_after is not None:
                        limit = self.offline_after(row.interval_seconds)
                        offline = replace(offline, warning=None, critical=limit)
                    age = now - float(row.last_seen or row.created_at or now)
                    offline = self._effective_rule(info, offline)
                    ch = self._step(row.id, info, "offline|", offline, None, age, now, quiet)
                    changes += [ch] if ch else []
                if do_forecast and by_metric.get("disk_full_days"):
                    changes += await self._forecast(row.id, info, by_metric, now, quiet)
            if do_forecast:
                self._last_forecast = now
            return await self._commit(changes)

    async def _forecast(
        self, server_id: str, info: ServerInfo, by_metric: dict[str, list[Rule]], now: float,
        quiet: bool,
    ) -> list[Change]:  # fmt: skip
        results = await self.db.read(lambda c: forecast.disk_forecasts_sync(c, server_id, now))
        changes: list[Change] = []
        for item in results:
            rule = select_rule(by_metric["disk_full_days"], item["mountpoint"])
            if rule is None:
                continue
            days = item["days_until_full"]
            value = float(days) if days is not None else 1e9  # no growth: far from full
            key = f"disk_full_days|{item['mountpoint']}"
            rule = self._effective_rule(info, rule)
            ch = self._step(server_id, info, key, rule, item["mountpoint"], value, now, quiet)
            changes += [ch] if ch else []
        return changes


def _breaches(rule: Rule, value: float | None) -> bool:
    """Does `value` reach any threshold of `rule` (no hysteresis: nothing is firing)?"""
    if value is None:
        return False
    above = rule.comparison == ">"
    for threshold in (rule.warning, rule.critical):
        if threshold is not None and (value >= threshold if above else value <= threshold):
            return True
    return False


def _idle(st: ConditionState) -> bool:
    """Nothing firing, nothing pending, no cooldown to remember: the state can go."""
    return st.level is None and not st.since and st.last_notified_at is None
