"""Log rules (issue 22, B8): a text or regex pattern, for one app / level / server or every
one, that raises an alert when shipped log lines match it.

A rule's alert is one condition per server (key `log|<rule id>`, metric `log_match`,
component `logs`) recorded through the engine's `apply_changes`, so it reaches the same
channels, history and dashboard as every other alert. The first match fires it (notified);
more matches add to its count (`value`) and notify again only once `cooldown_seconds` have
passed since the last notification; it resolves after `cooldown_seconds` without a match.
`simulate` replays the same steps over stored lines for the dry run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from fleetwatch.hub.alerts.metrics import MetricSpec
from fleetwatch.hub.alerts.rules import Transition, TransitionKind
from fleetwatch.hub.alerts.state import OPEN_STATES, AlertEvent, Change, apply_changes
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_alerts import alerts

SPEC = MetricSpec(
    name="log_match",
    component="logs",
    unit="lines",
    comparison=">",
    per_target=False,
    source="timer",
    label="Log lines matched",
)
KEY_PREFIX = "log|"
#: characters of the first matching line quoted in the alert message
QUOTE = 200


@dataclass(frozen=True)
class LogRule:
    id: int
    name: str
    kind: str  # text | regex
    pattern: str
    case_sensitive: bool
    server_id: str | None
    app: str | None
    min_level: int | None
    alert_level: str
    cooldown_seconds: float
    enabled: bool = True

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.id}"

    def applies(self, server_id: str, app: str, level: int) -> bool:
        return (
            (self.server_id is None or self.server_id == server_id)
            and (self.app is None or self.app == app)
            and (self.min_level is None or level >= self.min_level)
        )


def compile_pattern(kind: str, pattern: str, case_sensitive: bool) -> Callable[[str], bool]:
    """A predicate on one message (`re.error` for a bad regex)."""
    source = re.escape(pattern) if kind == "text" else pattern
    search = re.compile(source, 0 if case_sensitive else re.IGNORECASE).search
    return lambda message: search(message) is not None


def rule_of(m: Mapping[str, Any]) -> LogRule:
    return LogRule(
        id=int(m["id"]),
        name=str(m["name"]),
        kind=str(m["kind"]),
        pattern=str(m["pattern"]),
        case_sensitive=bool(m["case_sensitive"]),
        server_id=m["server_id"],
        app=m["app"],
        min_level=m["min_level"],
        alert_level=str(m["alert_level"]),
        cooldown_seconds=float(m["cooldown_seconds"]),
        enabled=bool(m["enabled"]),
    )


@dataclass
class Hit:
    """What one rule matched in one batch of one server."""

    rule: LogRule
    count: int
    first: str  # the first matching message
    app: str
    ts: float


class Matcher:
    """The enabled rules, compiled once; `hits` runs them over one server's lines."""

    def __init__(self, rules: Iterable[LogRule]) -> None:
        self.rules = [(r, compile_pattern(r.kind, r.pattern, r.case_sensitive)) for r in rules]

    def hits(self, server_id: str, lines: Iterable[tuple[str, int, str, float]]) -> list[Hit]:
        """`lines`: (app, level number, message, ts) each."""
        if not self.rules:
            return []
        found: dict[int, Hit] = {}
        for app, level, message, ts in lines:
            for rule, matches in self.rules:
                if rule.applies(server_id, app, level) and matches(message):
                    hit = found.get(rule.id)
                    if hit is None:
                        found[rule.id] = Hit(rule, 1, message, app, ts)
                    else:
                        hit.count += 1
        return list(found.values())


def _message(rule: LogRule, app: str, line: str) -> str:
    """The alert's message (the count is its `value`)."""
    quoted = line if len(line) <= QUOTE else line[:QUOTE] + "…"
    return f'Log rule "{rule.name}" matched in {app}: {quoted}'


def _names(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    c = servers.c
    rows = conn.execute(select(c.id, c.hostname, c.display_name).where(c.id.in_(set(ids))))
    return {r.id: r.display_name or r.hostname for r in rows}


def _rule_id(key: str) -> int:
    tail = key[len(KEY_PREFIX) :]
    return int(tail) if tail.isdigit() else -1


def _open_alerts(conn: Connection, server_id: str | None, keys: list[str]) -> dict[str, Any]:
    c = alerts.c
    query = select(c.id, c.server_id, c.key, c.value, c.notified_at, c.updated_at, c.target)
    query = query.where(c.state.in_(OPEN_STATES))
    query = query.where(c.key.in_(keys)) if keys else query.where(c.key.like(f"{KEY_PREFIX}%"))
    if server_id is not None:
        query = query.where(c.server_id == server_id)
    return {f"{r.server_id}\0{r.key}": r for r in conn.execute(query)}


def apply_hits(
    conn: Connection, server_id: str, hits: list[Hit], now: float, quiet: bool
) -> list[AlertEvent]:
    """(Writer) fire, count or re-notify each hit's alert; `quiet`: in maintenance (no
    notifications)."""
    name = _names(conn, [server_id]).get(server_id, server_id)
    found = _open_alerts(conn, server_id, [h.rule.key for h in hits])
    open_ids: dict[tuple[str, str], int] = {}
    changes: list[Change] = []
    for hit in hits:
        rule, current = hit.rule, found.get(f"{server_id}\0{hit.rule.key}")
        kind: TransitionKind
        if current is None:
            total, kind, notify = float(hit.count), "fired", not quiet
        else:
            open_ids[(server_id, rule.key)] = int(current.id)
            total, kind = float(current.value or 0) + hit.count, "repeat"
            last = current.notified_at if current.notified_at is not None else -1e18
            notify = not quiet and now - last >= rule.cooldown_seconds
        message = _message(rule, hit.app, hit.first)
        transition = Transition(kind, rule.alert_level, None, total, notify)
        changes.append(
            Change(server_id, name, rule.key, rule.id, SPEC, hit.app, transition, now, message)
        )
    return apply_changes(conn, changes, open_ids)


def resolve_quiet(conn: Connection, rules: Mapping[int, LogRule], now: float) -> list[AlertEvent]:
    """(Writer) resolve the log alerts without a match for their rule's cooldown (and those
    whose rule is gone or disabled)."""
    open_ids: dict[tuple[str, str], int] = {}
    changes: list[Change] = []
    found = _open_alerts(conn, None, []).values()
    names = _names(conn, (r.server_id for r in found))
    for r in found:
        rule = rules.get(_rule_id(r.key))
        if rule is not None and rule.enabled and now - r.updated_at < rule.cooldown_seconds:
            continue
        open_ids[(r.server_id, r.key)] = int(r.id)
        transition = Transition("resolved", None, None, r.value, True)
        rule_id = rule.id if rule is not None else 0
        name = rule.name if rule is not None else "deleted rule"
        server_name = names.get(r.server_id, r.server_id)
        changes.append(
            Change(
                r.server_id,
                server_name,
                r.key,
                rule_id,
                SPEC,
                r.target,
                transition,
                now,
                f'Log rule "{name}": quiet again',
            )
        )
    return apply_changes(conn, changes, open_ids)


@dataclass
class Replay:
    """The dry run's tally for one server."""

    matches: int = 0
    fired: int = 0
    notifications: int = 0
    last_match: float = -1e18
    last_notified: float = -1e18


def simulate(replays: dict[str, Replay], server_id: str, ts: float, cooldown: float) -> None:
    """Step one server's replay with a match at `ts` (lines in time order)."""
    r = replays.setdefault(server_id, Replay())
    r.matches += 1
    if ts - r.last_match >= cooldown:  # quiet for a cooldown: the alert had resolved
        r.fired += 1
        r.notifications += 1
        r.last_notified = ts
    elif ts - r.last_notified >= cooldown:
        r.notifications += 1
        r.last_notified = ts
    r.last_match = ts
