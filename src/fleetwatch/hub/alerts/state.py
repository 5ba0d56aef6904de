"""Recording rule transitions as alert rows, and the alert records channels receive.

The engine evaluates in memory (`rules.evaluate`) and hands the resulting `Change`s to
`apply_changes`, which runs inside one writer batch: `fired` inserts an alert, `escalated` /
`deescalated` / `repeat` update its level and value, `resolved` closes it. Each change yields
an `AlertEvent` carrying the alert as seed 004 shapes it (timestamp, component, metric, value,
threshold, level, message) plus id, server, state and times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from fleetwatch.hub.alerts.metrics import MetricSpec
from fleetwatch.hub.alerts.rules import Transition
from fleetwatch.hub.store.tables_alerts import alerts

OPEN_STATES = ("firing", "acknowledged")


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass(frozen=True)
class Change:
    server_id: str
    server_name: str
    key: str
    rule_id: int
    spec: MetricSpec
    target: str | None
    transition: Transition
    ts: float
    message: str


@dataclass(frozen=True)
class AlertEvent:
    """What channels receive. `kind`: fired | escalated | repeat | resolved | test."""

    kind: str
    alert: dict[str, Any]
    notify: bool = True

    @property
    def level(self) -> str:
        return str(self.alert.get("level") or "WARNING")

    @property
    def component(self) -> str:
        return str(self.alert.get("component") or "")


def alert_dict(row: Any, server_name: str | None = None) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["id"],
        "timestamp": iso(m["fired_at"]),
        "component": m["component"],
        "metric": m["metric"],
        "target": m["target"],
        "value": m["value"],
        "threshold": m["threshold"],
        "level": m["level"],
        "message": m["message"],
        "server_id": m["server_id"],
        "server_name": server_name or m["server_id"],
        "rule_id": m["rule_id"],
        "state": m["state"],
        "fired_at": m["fired_at"],
        "updated_at": m["updated_at"],
        "acknowledged_at": m["acknowledged_at"],
        "acknowledged_by": m["acknowledged_by"],
        "resolved_at": m["resolved_at"],
        "notify_count": m["notify_count"],
    }


_ROW = tuple(alerts.c)
_INSERT = alerts.insert().returning(*_ROW)
_BY_ID = alerts.c.id == bindparam("alert_id")
_RESOLVE = (
    update(alerts)
    .where(_BY_ID)
    .values(state="resolved", resolved_at=bindparam("ts"), updated_at=bindparam("ts"))
    .returning(*_ROW)
)
_REPEAT = update(alerts).where(_BY_ID).values(value=bindparam("v"), updated_at=bindparam("ts"))
_LEVEL = _REPEAT.values(level=bindparam("lv"), threshold=bindparam("th"), message=bindparam("msg"))
_NOTIFIED = {"notified_at": bindparam("ts"), "notify_count": alerts.c.notify_count + 1}
#: (level changed?, notified?) -> the update statement (built once: compiled once)
_UPDATES = {
    (False, False): _REPEAT.returning(*_ROW),
    (False, True): _REPEAT.values(**_NOTIFIED).returning(*_ROW),
    (True, False): _LEVEL.returning(*_ROW),
    (True, True): _LEVEL.values(**_NOTIFIED).returning(*_ROW),
}


def apply_changes(
    conn: Connection, changes: list[Change], open_ids: dict[tuple[str, str], int]
) -> list[AlertEvent]:
    """Write `changes`; `open_ids` ((server, key) -> open alert id) is updated in place.
    One statement per change (its `RETURNING` gives the row the event carries)."""
    events: list[AlertEvent] = []
    for ch in changes:
        t = ch.transition
        ident = (ch.server_id, ch.key)
        alert_id = open_ids.get(ident)
        if t.kind == "fired" or alert_id is None:
            if t.kind == "resolved" or t.level is None:
                continue
            row = conn.execute(_INSERT, {
                "server_id": ch.server_id, "rule_id": ch.rule_id, "key": ch.key,
                "component": ch.spec.component, "metric": ch.spec.name, "target": ch.target,
                "level": t.level, "value": t.value, "threshold": t.threshold,
                "message": ch.message, "state": "firing", "fired_at": ch.ts, "updated_at": ch.ts,
                "notified_at": ch.ts if t.notify else None, "notify_count": 1 if t.notify else 0,
            }).one()  # fmt: skip
            open_ids[ident] = int(row.id)
        elif t.kind == "resolved":
            row = conn.execute(_RESOLVE, {"alert_id": alert_id, "ts": ch.ts}).one()
            open_ids.pop(ident, None)
        else:
            stmt = _UPDATES[(t.kind != "repeat", t.notify)]
            params = {"alert_id": alert_id, "v": t.value, "ts": ch.ts, "lv": t.level,
                      "th": t.threshold, "msg": ch.message}  # fmt: skip
            row = conn.execute(stmt, params).one()
        events.append(AlertEvent(t.kind, alert_dict(row, ch.server_name), notify=t.notify))
    return events


def load_open(conn: Connection) -> list[Any]:
    """Open alerts (firing or acknowledged), to restore the engine's state after a restart."""
    return list(conn.execute(select(alerts).where(alerts.c.state.in_(OPEN_STATES))))
