"""Maintenance windows (H5): one-off (`starts_at`..`ends_at`, epoch seconds) or weekly
(weekdays + local `HH:MM` start/end in an IANA zone, across midnight allowed). An active window
silences the servers it covers: every server (`all`), one group, or one server."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fleetwatch.hub.alerts.timewindow import TimeWindow, WindowError, parse_zone

SCOPES = ("all", "group", "server")
KINDS = ("once", "weekly")


@dataclass(frozen=True)
class MaintenanceWindow:
    id: int
    name: str
    scope: str
    scope_value: str | None
    kind: str
    starts_at: float | None = None
    ends_at: float | None = None
    weekly: TimeWindow | None = None
    enabled: bool = True

    def covers(self, server_id: str, group: str | None) -> bool:
        if self.scope == "server":
            return self.scope_value == server_id
        if self.scope == "group":
            return group is not None and self.scope_value == group
        return True

    def active(self, now: float) -> bool:
        if not self.enabled:
            return False
        if self.kind == "once":
            return (self.starts_at or 0.0) <= now < (self.ends_at or 0.0)
        return self.weekly is not None and self.weekly.contains(now)


def silenced(
    windows: Iterable[MaintenanceWindow], server_id: str, group: str | None, now: float
) -> bool:
    return any(w.covers(server_id, group) and w.active(now) for w in windows)


def from_fields(row: Mapping[str, Any]) -> MaintenanceWindow:
    """Validate stored / submitted fields; `WindowError.field` names the offending one."""
    scope = row.get("scope") or "all"
    if scope not in SCOPES:
        raise WindowError("scope", f"expected one of {', '.join(SCOPES)}")
    if scope != "all" and not row.get("scope_value"):
        raise WindowError("scope_value", f"a {scope} window needs the {scope} it silences")
    kind = row.get("kind") or "once"
    weekly: TimeWindow | None = None
    starts_at = row.get("starts_at")
    ends_at = row.get("ends_at")
    if kind == "once":
        if starts_at is None:
            raise WindowError("starts_at", "a one-off window needs starts_at (epoch seconds)")
        if ends_at is None:
            raise WindowError("ends_at", "a one-off window needs ends_at (epoch seconds)")
        if float(ends_at) <= float(starts_at):
            raise WindowError("ends_at", "must be after starts_at")
    elif kind == "weekly":
        weekly = TimeWindow.parse(
            row.get("start_time") or "",
            row.get("end_time") or "",
            row.get("timezone") or "UTC",
            row.get("weekdays"),
            names=("start_time", "end_time", "timezone", "weekdays"),
        )
    else:
        raise WindowError("kind", f"expected one of {', '.join(KINDS)}")
    parse_zone(row.get("timezone") or "UTC")
    return MaintenanceWindow(
        id=int(row.get("id") or 0),
        name=str(row.get("name") or ""),
        scope=scope,
        scope_value=row.get("scope_value") if scope != "all" else None,
        kind=kind,
        starts_at=float(starts_at) if starts_at is not None else None,
        ends_at=float(ends_at) if ends_at is not None else None,
        weekly=weekly,
        enabled=bool(row.get("enabled", True)),
    )
