"""In-memory rule evaluation for the alert engine: no I/O, no clock of its own.

`Evaluator` holds what evaluation needs between snapshots: the rules and maintenance windows,
per-server info (name, group, thresholds), the state of every condition, the open alert ids
and the acknowledged ones. `evaluate_snapshot` turns one snapshot's readings into the `Change`s
to record; `step` feeds one reading to one condition (the timer checks use it too).

A reading that breaches nothing on a condition with no state is skipped without touching any
state: each (metric, target) of a server is resolved once into a cached `Slot` (state key,
effective rule, thresholds), so such a reading costs a lookup and two comparisons. Effective
rules (dashboard defaults and per-server thresholds applied) are cached on the server's info.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from fleetwatch.hub.alerts.maintenance import MaintenanceWindow, silenced
from fleetwatch.hub.alerts.metrics import METRICS, Reading, message
from fleetwatch.hub.alerts.rules import (
    ConditionState,
    Rule,
    apply_server_thresholds,
    evaluate,
    rules_for,
)
from fleetwatch.hub.alerts.rules import select as select_rule
from fleetwatch.hub.alerts.state import Change

SNAPSHOT_METRICS = tuple(m for m, spec in METRICS.items() if spec.source == "snapshot")


@dataclass(frozen=True, slots=True)
class Slot:
    """One (metric, target) of one server, resolved once: its state key, its effective rule
    and what `breaches` needs."""

    key: str
    rule: Rule
    above: bool
    warning: float | None
    critical: float | None

    def breaches(self, value: float) -> bool:
        """Does `value` reach a threshold (no hysteresis: nothing is firing)?"""
        w, c = self.warning, self.critical
        if self.above:
            return (w is not None and value >= w) or (c is not None and value >= c)
        return (w is not None and value <= w) or (c is not None and value <= c)


#: metric -> target -> the condition that governs it (None: no rule applies)
Slots = dict[str, dict[str | None, Slot | None]]


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
    slots: Slots = field(default_factory=dict)


def server_info(row: Any, now: float) -> ServerInfo:
    """From a `servers` row (id, hostname, display_name, group_name, thresholds)."""
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


def idle(st: ConditionState) -> bool:
    """Nothing firing, nothing pending, no cooldown to remember: the state can go."""
    return st.level is None and not st.since and st.last_notified_at is None


class Evaluator:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.windows: list[MaintenanceWindow] = []
        self.servers: dict[str, ServerInfo] = {}
        self.states: dict[str, dict[str, ConditionState]] = {}
        self.open_ids: dict[tuple[str, str], int] = {}
        self.acknowledged: set[int] = set()
        self.last_ts: dict[str, float] = {}
        self.snapshots_evaluated = 0
        #: moves whenever rules, default thresholds or a server's info change; the relay
        #: filter's bounds are worked out again only then (`relayfilter.py`: with thousands of
        #: servers with thresholds of their own, that is thousands of rule lookups)
        self.generation = 0
        self.bounds_cache: tuple[int, dict[str, tuple[bool, float]]] | None = None
        self._defaults: dict[str, Any] = {}
        #: seconds of silence after which a server is offline, from its interval (built-in rule)
        self.offline_after: Callable[[int | None], float] | None = None
        self._rule_cache: dict[tuple[str, str | None], dict[str, list[Rule]]] = {}
        #: servers some server-scoped rule names (the others share their group's caches)
        self._named: frozenset[str] = frozenset()
        #: group -> (effective rules, slots) shared by its servers without own thresholds
        self._shared: dict[str | None, tuple[dict[Rule, Rule], Slots]] = {}

    @property
    def default_thresholds(self) -> dict[str, Any]:
        """Dashboard-wide thresholds (cpu_warning, ...) that built-in global rules follow."""
        return self._defaults

    @default_thresholds.setter
    def default_thresholds(self, value: dict[str, Any]) -> None:
        if value != self._defaults:
            self._defaults = value
            self._forget_effective()

    def set_rules(self, rules: list[Rule], windows: list[MaintenanceWindow]) -> None:
        """New rules and windows; the caches built from them are kept when nothing changed
        (the timer re-reads both every tick)."""
        if rules == self.rules and windows == self.windows:
            return
        self.rules, self.windows = rules, windows
        self._named = frozenset(r.scope_value or "" for r in rules if r.scope == "server")
        self._rule_cache.clear()
        self._forget_effective()
        for info in self.servers.values():  # refetched (thresholds too) before next use
            info.fetched_at = 0.0

    def _forget_effective(self) -> None:
        self.generation += 1
        self._shared.clear()
        for server_id, info in self.servers.items():
            info.effective, info.slots = {}, {}
            self._caches_of(server_id, info)

    def remember_server(self, server_id: str, info: ServerInfo) -> None:
        """A freshly read server: its caches are kept when name, group and thresholds are
        unchanged (servers are re-read every 30 s and on every timer tick)."""
        known = self.servers.get(server_id)
        if known is not None and (known.name, known.group, known.thresholds) == (
            info.name,
            info.group,
            info.thresholds,
        ):
            known.fetched_at = info.fetched_at
            return
        self.servers[server_id] = info
        self.generation += 1
        self._caches_of(server_id, info)

    def _caches_of(self, server_id: str, info: ServerInfo) -> None:
        """Servers with no thresholds of their own and no server-scoped rule resolve every
        condition exactly as the rest of their group: they share one set of caches (so a
        fleet's first snapshots after a start resolve each rule once per group)."""
        if info.thresholds or server_id in self._named:
            return
        effective, slots = self._shared.setdefault(info.group, ({}, {}))
        info.effective, info.slots = effective, slots

    def wanted(self) -> set[str]:
        """Snapshot metrics some enabled rule watches (nothing else is read)."""
        return {r.metric for r in self.rules if r.enabled and r.metric in SNAPSHOT_METRICS}

    def rules_of(self, server_id: str, info: ServerInfo) -> dict[str, list[Rule]]:
        key = (server_id if server_id in self._named else "", info.group)
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
        by_metric = self.rules_of(server_id, info)
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
                change = self.step(server_id, info, key, slot.rule, target, value, ts, quiet)
                if change is not None:
                    changes.append(change)
        if had_states:
            changes += self._vanished(server_id, info, by_metric, states, seen, ts, quiet)
        for key in [k for k, st in states.items() if idle(st)]:
            del states[key]  # back to normal: forget it (the fast path above applies again)
        return changes

    def in_trouble(self, server_id: str) -> bool:
        """Has the server a condition pending, firing or cooling down (not idle)?"""
        states = self.states.get(server_id)  # per relayed row: no dict made for a miss
        return states is not None and any(not idle(st) for st in states.values())

    def note_seen(self, seen: dict[str, float]) -> None:
        """Snapshots with nothing to evaluate (`Relayed` without readings), newest per server:
        they still order later ones (a snapshot older than one seen is not evaluated)."""
        last = self.last_ts
        for server_id, ts in seen.items():
            if ts > last.get(server_id, 0.0):
                last[server_id] = ts

    def _vanished(
        self, server_id: str, info: ServerInfo, by_metric: dict[str, list[Rule]],
        states: dict[str, ConditionState], seen: set[str], ts: float, quiet: bool | None,
    ) -> list[Change]:  # fmt: skip
        """Conditions this snapshot no longer reports (unmounted disk, ...): resolve them."""
        changes: list[Change] = []
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
            rule = self.effective_rule(info, rule)
            change = self.step(server_id, info, key, rule, target or None, None, ts, quiet)
            if change is not None:
                changes.append(change)
        return changes

    def _slot(
        self, info: ServerInfo, candidates: list[Rule], metric: str, target: str | None
    ) -> Slot | None:
        rule = select_rule(candidates, target)
        if rule is None:
            return None
        rule = self.effective_rule(info, rule)
        above = rule.comparison == ">"
        return Slot(f"{metric}|{target or ''}", rule, above, rule.warning, rule.critical)

    def effective_rule(self, info: ServerInfo, rule: Rule) -> Rule:
        """`rule` with the dashboard's default thresholds (built-in global rules) and the
        server's own thresholds applied; cached on the server's info (refetched regularly)."""
        found = info.effective.get(rule)
        if found is None:
            found = rule
            if found.builtin and found.scope == "global":
                found = apply_server_thresholds(found, self.default_thresholds)
            found = info.effective[rule] = apply_server_thresholds(found, info.thresholds)
        return found

    def step(
        self, server_id: str, info: ServerInfo, key: str, rule: Rule, target: str | None,
        value: float | None, now: float, quiet: bool,
    ) -> Change | None:  # fmt: skip
        """Feed one reading to a condition; `rule` is already effective (`effective_rule`)."""
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
