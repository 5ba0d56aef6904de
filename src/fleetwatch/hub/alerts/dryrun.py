"""B4: "this rule would have fired 14 times last week" - a rule replayed over stored history.

Hot metrics (CPU, memory, swap, disk % of the fullest mount) come from the snapshot columns
and, before the oldest raw snapshot still kept, from the 1-minute rollups (their max, or min
for "below" rules, so a short spike is not averaged away). Every other snapshot metric (per
mount, GPU, process, service, load per core) is read from the snapshots' stored documents,
at most `MAX_DETAIL_SAMPLES` per server spread evenly. Maintenance windows apply as they are
now. Timer metrics (offline, disk forecast) cannot be replayed and are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, select

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts.catalog import rule_from_row, validate_rule
from fleetwatch.hub.alerts.forecast import evenly
from fleetwatch.hub.alerts.maintenance import MaintenanceWindow, silenced
from fleetwatch.hub.alerts.metrics import METRICS
from fleetwatch.hub.alerts.rules import ConditionState, Rule, evaluate
from fleetwatch.hub.store import rollups
from fleetwatch.hub.store.codec import unpack
from fleetwatch.hub.store.tables import rollup_1m, servers, snapshots
from fleetwatch.protocol.models import Snapshot

HOT_COLUMNS = {"cpu_percent": "cpu_percent", "memory_percent": "memory_percent",
               "swap_percent": "swap_percent"}  # fmt: skip
MAX_DETAIL_SAMPLES = 2000
MAX_EVENTS = 200
Series = dict[str | None, list[tuple[float, float]]]


def parse_request(data: Mapping[str, Any]) -> tuple[Rule, float, str | None]:
    nested = data.get("rule")
    values = validate_rule(nested if isinstance(nested, dict) else data)
    if METRICS[values["metric"]].source != "snapshot":
        raise InvalidFieldError("metric", f"{values['metric']} cannot be replayed over history")
    hours = data.get("hours", 168)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 2160:
        raise InvalidFieldError("hours", "expected a number of hours in (0, 2160]")
    server_id = data.get("server_id")
    if server_id is not None and not isinstance(server_id, str):
        raise InvalidFieldError("server_id", "expected a server id")
    rule = rule_from_row({"id": 0, **values})
    return rule, float(hours), server_id


def _hot_series(conn: Connection, rule: Rule, server_id: str, since: float) -> Series:
    column = HOT_COLUMNS.get(rule.metric)
    if column is None and rule.metric == "disk_percent" and rule.target is None:
        column = "disk_percent_max"
    if column is None:
        return {}
    raw = list(conn.execute(
        select(snapshots.c.ts, snapshots.c[column])
        .where(snapshots.c.server_id == server_id, snapshots.c.ts >= since)
        .order_by(snapshots.c.ts)
    ))  # fmt: skip
    oldest_raw = raw[0][0] if raw else float("inf")
    edge = rollups.high if rule.comparison == ">" else rollups.low  # n=1: min/max not stored
    rolled = conn.execute(
        select(rollup_1m.c.bucket, edge(rollup_1m, column))
        .where(rollup_1m.c.server_id == server_id, rollup_1m.c.bucket >= since,
               rollup_1m.c.bucket < oldest_raw - 60)
        .order_by(rollup_1m.c.bucket)
    )  # fmt: skip
    points = [(float(t), float(v)) for t, v in [*rolled, *raw] if v is not None]
    return {None: points}


def _detail_series(conn: Connection, rule: Rule, server_id: str, since: float) -> Series:
    index = list(conn.execute(
        select(snapshots.c.id)
        .where(snapshots.c.server_id == server_id, snapshots.c.ts >= since)
        .order_by(snapshots.c.ts)
    ))  # fmt: skip
    ids = [r[0] for r in evenly(index, MAX_DETAIL_SAMPLES)]
    spec = METRICS[rule.metric]
    assert spec.read is not None
    out: Series = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(snapshots.c.ts, snapshots.c.detail)
            .where(snapshots.c.id.in_(ids[start : start + 500]))
            .order_by(snapshots.c.ts)
        )
        for ts, detail in rows:
            try:
                snap = Snapshot.model_validate(unpack(detail))
            except (ValidationError, ValueError):
                continue
            for target, value in spec.read(snap):
                if rule.matches_target(target):
                    out.setdefault(target, []).append((float(ts), value))
    return out


def _replay(
    rule: Rule, series: Series, windows: list[MaintenanceWindow], server: Any
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for target, points in series.items():
        state = ConditionState()
        for ts, value in points:
            quiet = silenced(windows, server.id, server.group_name, ts)
            t = evaluate(rule, state, value, ts, silenced=quiet)
            if t is not None and t.kind != "deescalated":
                events.append({
                    "server_id": server.id, "server_name": server.display_name or server.hostname,
                    "target": target, "kind": t.kind, "level": t.level, "at": ts,
                    "value": value, "notify": t.notify,
                })  # fmt: skip
    return events


def dry_run_sync(
    conn: Connection,
    rule: Rule,
    hours: float,
    server_id: str | None,
    windows: list[MaintenanceWindow],
    now: float,
) -> dict[str, Any]:
    since = now - hours * 3600.0
    stmt = select(servers.c.id, servers.c.hostname, servers.c.display_name, servers.c.group_name)
    if server_id is not None:
        stmt = stmt.where(servers.c.id == server_id)
    evaluated, samples = 0, 0
    events: list[dict[str, Any]] = []
    for server in conn.execute(stmt):
        if not rule.applies_to(server.id, server.group_name):
            continue
        evaluated += 1
        series = _hot_series(conn, rule, server.id, since)
        if not series:
            series = _detail_series(conn, rule, server.id, since)
        samples += sum(len(p) for p in series.values())
        events += _replay(rule, series, windows, server)
    events.sort(key=lambda e: e["at"])
    fired = [e for e in events if e["kind"] in ("fired", "escalated")]
    return {
        "hours": hours,
        "since": since,
        "servers_evaluated": evaluated,
        "samples": samples,
        "fired": sum(1 for e in events if e["kind"] == "fired"),
        "by_level": {
            lvl: sum(1 for e in fired if e["level"] == lvl) for lvl in ("WARNING", "CRITICAL")
        },
        "notifications": sum(1 for e in events if e["notify"] and e["kind"] != "resolved"),
        "events": events[:MAX_EVENTS],
        "events_truncated": len(events) > MAX_EVENTS,
    }
