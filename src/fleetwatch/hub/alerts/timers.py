"""The alert engine's timer checks: conditions no snapshot reports.

- `offline`: seconds since a server was last seen, for every server on every check;
- `health_score` (issue 20): each server's score, computed by `health_of` (the hub's
  `services/health.py`) on a check when some server has such a rule;
- `disk_full_days` (B5 forecast): each server with such a rule is forecast once per
  `forecast_interval`, a slice of the fleet on every check (`ForecastRota`), so the decoding
  work (`forecast.py`) is spread evenly instead of arriving as one burst for the whole fleet.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, select

from fleetwatch.hub.alerts import forecast
from fleetwatch.hub.alerts.evaluation import Evaluator, ServerInfo
from fleetwatch.hub.alerts.rules import Rule
from fleetwatch.hub.alerts.rules import select as select_rule
from fleetwatch.hub.alerts.state import Change
from fleetwatch.hub.store.tables import servers

_SERVERS = select(
    servers.c.id, servers.c.hostname, servers.c.display_name, servers.c.group_name,
    servers.c.thresholds, servers.c.last_seen, servers.c.created_at, servers.c.interval_seconds,
)  # fmt: skip


def load_servers(conn: Connection) -> list[Any]:
    """Every server with what the timer checks need."""
    return list(conn.execute(_SERVERS))


def offline_change(
    ev: Evaluator, row: Any, info: ServerInfo, by_metric: dict[str, list[Rule]], now: float,
    quiet: bool,
) -> Change | None:  # fmt: skip
    """Step the server's `offline` condition with the seconds since it was last seen."""
    offline = select_rule(by_metric.get("offline", []), None)
    if offline is None:
        return None
    if offline.builtin and ev.offline_after is not None:
        offline = replace(offline, warning=None, critical=ev.offline_after(row.interval_seconds))
    age = now - float(row.last_seen or row.created_at or now)
    offline = ev.effective_rule(info, offline)
    return ev.step(row.id, info, "offline|", offline, None, age, now, quiet)


def forecast_changes(
    ev: Evaluator, server_id: str, info: ServerInfo, rules: list[Rule],
    results: list[dict[str, Any]], now: float, quiet: bool,
) -> list[Change]:  # fmt: skip
    """Step each mount's `disk_full_days` condition with its forecast."""
    changes: list[Change] = []
    for item in results:
        rule = select_rule(rules, item["mountpoint"])
        if rule is None:
            continue
        days = item["days_until_full"]
        value = float(days) if days is not None else 1e9  # no growth: far from full
        key = f"disk_full_days|{item['mountpoint']}"
        rule = ev.effective_rule(info, rule)
        ch = ev.step(server_id, info, key, rule, item["mountpoint"], value, now, quiet)
        changes += [ch] if ch else []
    return changes


def health_changes(
    ev: Evaluator, server_id: str, info: ServerInfo, rules: list[Rule], score: float | None,
    now: float, quiet: bool,
) -> list[Change]:  # fmt: skip
    """Step the server's `health_score` condition with its score now (issue 20)."""
    rule = select_rule(rules, None)
    if rule is None or score is None:
        return []
    rule = ev.effective_rule(info, rule)
    ch = ev.step(server_id, info, "health_score|", rule, None, score, now, quiet)
    return [ch] if ch else []


def forecasts_of(conn: Connection, ids: list[str], now: float) -> dict[str, list[dict[str, Any]]]:
    """(Reader thread) the disk forecasts of several servers."""
    return {sid: forecast.disk_forecasts_sync(conn, sid, now) for sid in ids}


class ForecastRota:
    """Which servers to forecast on this check: all of them once per `interval_seconds`,
    spread over the checks in between (`check_seconds` apart)."""

    def __init__(self, interval_seconds: float, check_seconds: float) -> None:
        self.interval = interval_seconds
        self.check = check_seconds
        self.done_at: dict[str, float] = {}  # server -> when last forecast

    def due(self, candidates: list[str], now: float) -> list[str]:
        present = set(candidates)
        self.done_at = {s: t for s, t in self.done_at.items() if s in present}
        stale = [s for s in candidates if now - self.done_at.get(s, -math.inf) >= self.interval]
        if not stale:
            return []
        checks = max(1.0, self.interval / max(self.check, 1e-9))
        share = max(1, math.ceil(len(candidates) / checks))
        stale.sort(key=lambda s: self.done_at.get(s, -math.inf))  # never forecast first
        picked = stale[:share]
        for s in picked:
            self.done_at[s] = now
        return picked
