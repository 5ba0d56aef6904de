"""Pure rule semantics (H5): no I/O, no clock of its own (`now` is always passed in).

One *condition* is (server, metric, target). Its `ConditionState` remembers since when each
level has been breached, the active level and when it last notified. `evaluate` feeds it one
reading and answers the `Transition` to record, if any:

- a level fires once its threshold has been breached continuously for `duration_seconds`
  (0 = on the first sample over the threshold, as seed 001 does);
- thresholds are inclusive (`value >= threshold` for "above" metrics, `<=` for "below");
- hysteresis: an active level holds until the value is `hysteresis` beyond its threshold on
  the good side (for "above" metrics: `value < threshold - hysteresis`);
- cooldown: a new firing within `cooldown_seconds` of the previous notification of the same
  condition is recorded but not notified (flapping stays quiet); escalation to a higher level
  always notifies;
- repeat: with `repeat_seconds > 0` a still-firing condition notifies again every
  `max(repeat_seconds, cooldown_seconds)`;
- silenced (maintenance window): nothing new fires and nothing notifies; breaches keep their
  start time so a condition still true when the window ends fires at once;
- a reading of `None` (the target vanished: unmounted disk, removed GPU) resolves the condition.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, Literal

from fleetwatch.hub.alerts.metrics import METRICS, THRESHOLD_PREFIXES

LEVELS: tuple[str, ...] = ("INFO", "WARNING", "CRITICAL")
LEVEL_RANK: dict[str, int] = {name: i for i, name in enumerate(LEVELS)}
SCOPE_RANK: dict[str, int] = {"global": 0, "group": 1, "server": 2}
TransitionKind = Literal["fired", "escalated", "deescalated", "repeat", "resolved"]


@dataclass(frozen=True)
class Rule:
    metric: str
    warning: float | None
    critical: float | None
    id: int = 0
    name: str = ""
    scope: str = "global"
    scope_value: str | None = None
    target: str | None = None  # fnmatch pattern on the target; None = every target
    duration_seconds: float = 0.0
    hysteresis: float = 0.0
    cooldown_seconds: float = 300.0
    repeat_seconds: float = 0.0
    enabled: bool = True
    builtin: bool = False  # a shipped default: its thresholds follow the dashboard settings

    @property
    def comparison(self) -> str:
        return METRICS[self.metric].comparison

    def threshold(self, level: str) -> float | None:
        return self.critical if level == "CRITICAL" else self.warning

    def applies_to(self, server_id: str, group: str | None) -> bool:
        if self.scope == "server":
            return self.scope_value == server_id
        if self.scope == "group":
            return group is not None and self.scope_value == group
        return True

    def matches_target(self, target: str | None) -> bool:
        return self.target is None or (target is not None and fnmatchcase(target, self.target))


@dataclass
class ConditionState:
    level: str | None = None  # the active (firing) level
    since: dict[str, float] = field(default_factory=dict)  # level -> breached since
    last_notified_at: float | None = None
    open_notified: bool = False  # did the open alert notify (so its resolution does too)?
    value: float | None = None


@dataclass(frozen=True)
class Transition:
    kind: TransitionKind
    level: str | None  # the new level (None when resolved)
    threshold: float | None
    value: float | None
    notify: bool


def _breached(rule: Rule, level: str, value: float, holding: bool) -> float | None:
    """The threshold of `level` if `value` breaches it (hysteresis applies when `holding`)."""
    thr = rule.threshold(level)
    if thr is None:
        return None
    slack = rule.hysteresis if holding else 0.0
    if rule.comparison == ">":
        return thr if value >= thr - slack else None
    return thr if value <= thr + slack else None


def evaluate(
    rule: Rule, state: ConditionState, value: float | None, now: float, silenced: bool = False
) -> Transition | None:
    """Feed one reading taken at `now` (epoch seconds); mutates `state`."""
    state.value = value
    if value is None:
        state.since.clear()
        return _resolve(state, None) if state.level is not None else None
    active_rank = LEVEL_RANK[state.level] if state.level else -1
    ready: str | None = None
    ready_thr: float | None = None
    for level in ("WARNING", "CRITICAL"):
        thr = _breached(rule, level, value, holding=active_rank >= LEVEL_RANK[level])
        if thr is None:
            state.since.pop(level, None)
            continue
        since = state.since.setdefault(level, now)
        if now - since >= rule.duration_seconds:
            ready, ready_thr = level, thr
    if ready is None:
        return _resolve(state, value) if state.level is not None else None
    if state.level is None:
        if silenced:
            return None
        return _fire(rule, state, "fired", ready, ready_thr, value, now)
    if LEVEL_RANK[ready] > active_rank:
        return _fire(rule, state, "escalated", ready, ready_thr, value, now, silenced)
    if LEVEL_RANK[ready] < active_rank:
        state.level = ready
        return Transition("deescalated", ready, ready_thr, value, notify=False)
    if silenced or rule.repeat_seconds <= 0 or state.last_notified_at is None:
        return None
    if now - state.last_notified_at >= max(rule.repeat_seconds, rule.cooldown_seconds):
        state.last_notified_at = now
        state.open_notified = True
        return Transition("repeat", ready, ready_thr, value, notify=True)
    return None


def _fire(
    rule: Rule,
    state: ConditionState,
    kind: TransitionKind,
    level: str,
    threshold: float | None,
    value: float,
    now: float,
    silenced: bool = False,
) -> Transition:
    if kind == "fired":
        last = state.last_notified_at
        notify = last is None or now - last >= rule.cooldown_seconds
        state.open_notified = notify
    else:
        notify = not silenced
        state.open_notified = state.open_notified or notify
    state.level = level
    if notify:
        state.last_notified_at = now
    return Transition(kind, level, threshold, value, notify=notify)


def _resolve(state: ConditionState, value: float | None) -> Transition:
    notify = state.open_notified
    state.level = None
    state.open_notified = False
    return Transition("resolved", None, None, value, notify=notify)


# --- choosing the rule that governs a condition ------------------------------------------


def specificity(rule: Rule) -> tuple[int, int, int]:
    """Server beats group beats global; a rule naming a target beats a catch-all."""
    return (SCOPE_RANK.get(rule.scope, 0), 1 if rule.target is not None else 0, -rule.id)


def rules_for(rules: list[Rule], server_id: str, group: str | None) -> dict[str, list[Rule]]:
    """Enabled rules applying to a server, per metric, most specific first."""
    out: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.enabled and rule.applies_to(server_id, group):
            out.setdefault(rule.metric, []).append(rule)
    for candidates in out.values():
        candidates.sort(key=specificity, reverse=True)
    return out


def select(candidates: list[Rule], target: str | None) -> Rule | None:
    """The most specific rule whose target pattern matches `target`."""
    for rule in candidates:
        if rule.matches_target(target):
            return rule
    return None


def apply_server_thresholds(rule: Rule, thresholds: dict[str, Any] | None) -> Rule:
    """Per-server thresholds from `servers.thresholds` (seed-001 PATCH keys such as
    `cpu_warning`, `disk_critical`, or full metric names `cpu_percent_warning`) override the
    values of global and group rules; a rule scoped to the server itself wins over them."""
    if not thresholds or rule.scope == "server":
        return rule
    changes: dict[str, float | None] = {}
    prefixes = [p for p, m in THRESHOLD_PREFIXES.items() if m == rule.metric] + [rule.metric]
    for prefix in prefixes:
        for level in ("warning", "critical"):
            raw = thresholds.get(f"{prefix}_{level}")
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                changes[level] = float(raw)
    return replace(rule, **changes) if changes else rule  # type: ignore[arg-type]
