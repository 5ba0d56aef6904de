"""Dashboard settings: what a user edits on the settings page, stored in the `settings` table.

One row per setting (`key` = the field name, `value` = its JSON). Missing rows mean the default,
so a new setting needs no migration. Hub *process* settings are in `hub/settings.py`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Connection, delete, insert, select

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.events import EventBus, SettingsChanged
from fleetwatch.hub.services.audit import record_audit
from fleetwatch.hub.store import tables

Pct = Annotated[float, Field(ge=0, le=100)]

#: metric families with warning/critical thresholds (percent)
THRESHOLD_FAMILIES: tuple[str, ...] = ("cpu", "memory", "disk", "swap")


class Thresholds(BaseModel):
    """Warning and critical levels in percent; warning must be below critical.

    Defaults are the seeds' (001/004): CPU 85/95, memory 80/90, disk 85/95; swap 80/95 matches
    the alert catalogue's swap rule so the dashboard colours what the alerts fire on.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    cpu_warning: Pct = 85.0
    cpu_critical: Pct = 95.0
    memory_warning: Pct = 80.0
    memory_critical: Pct = 90.0
    disk_warning: Pct = 85.0
    disk_critical: Pct = 95.0
    swap_warning: Pct = 80.0
    swap_critical: Pct = 95.0

    @model_validator(mode="after")
    def _warning_below_critical(self) -> Thresholds:
        problem = threshold_order_problem(self.model_dump())
        if problem is not None:
            raise ValueError(problem[1])
        return self


def threshold_order_problem(values: dict[str, Any], prefix: str = "") -> tuple[str, str] | None:
    """(field, message) of the first family whose warning is not below its critical, or None."""
    for family in THRESHOLD_FAMILIES:
        warning = values.get(f"{family}_warning")
        critical = values.get(f"{family}_critical")
        if warning is not None and critical is not None and warning >= critical:
            field = f"{prefix}{family}_warning"
            return field, (
                f"{field} ({warning:g}) must be below {prefix}{family}_critical ({critical:g})"
            )
    return None


class ThresholdsPatch(BaseModel):
    """A partial set of thresholds (per-server overrides, settings updates); each 0-100."""

    model_config = ConfigDict(extra="forbid", strict=True)

    cpu_warning: Pct | None = None
    cpu_critical: Pct | None = None
    memory_warning: Pct | None = None
    memory_critical: Pct | None = None
    disk_warning: Pct | None = None
    disk_critical: Pct | None = None
    swap_warning: Pct | None = None
    swap_critical: Pct | None = None


class HealthSettings(BaseModel):
    """How the health score (issue 20, `services/health.py`) counts: the most points each
    resource can cost (its usage from its warning threshold up to 100 %), the points per firing
    alert, and the bands (`healthy_min` and up: Healthy; `warning_min` and up: Warning; below:
    Critical)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    cpu_weight: Pct = 25.0
    memory_weight: Pct = 25.0
    disk_weight: Pct = 30.0
    swap_weight: Pct = 10.0
    critical_alert_points: Pct = 20.0
    warning_alert_points: Pct = 10.0
    #: firing alerts together cost at most this many points
    alert_points_max: Pct = 40.0
    #: each error the hub logged in the last `log_window_minutes` costs the fleet this much
    log_error_points: Pct = 2.0
    log_error_points_max: Pct = 20.0
    log_window_minutes: float = Field(default=15.0, ge=1.0, le=1440.0)
    healthy_min: Pct = 90.0
    warning_min: Pct = 70.0

    @model_validator(mode="after")
    def _bands_nest(self) -> HealthSettings:
        if self.warning_min >= self.healthy_min:
            raise ValueError(
                f"warning_min ({self.warning_min:g}) must be below healthy_min "
                f"({self.healthy_min:g})"
            )
        return self


class DashboardSettings(BaseModel):
    """Global settings. Times carry their unit in the name."""

    model_config = ConfigDict(extra="forbid", strict=True)

    #: a server is offline when not heard from for max(this, 2.5 x its interval)
    stale_threshold_minutes: int = Field(default=5, ge=1, le=10080)
    #: how often the dashboard refreshes itself
    refresh_interval_seconds: int = Field(default=30, ge=2, le=3600)
    #: raw snapshots (one row per snapshot) kept this long
    raw_retention_hours: int = Field(default=48, ge=1, le=8760)
    #: 1-minute rollups kept this long
    rollup_1m_retention_days: int = Field(default=8, ge=1, le=3650)
    #: 1-hour rollups kept this long
    rollup_1h_retention_days: int = Field(default=400, ge=1, le=36500)
    #: live samples (performance monitor) kept this long
    live_retention_minutes: int = Field(default=60, ge=1, le=10080)
    #: audit log entries kept this long
    audit_retention_days: int = Field(default=365, ge=1, le=36500)
    #: thresholds of servers without their own
    default_thresholds: Thresholds = Field(default_factory=Thresholds)
    #: periodic export (H18) into <data_dir>/exports every this many hours; 0 = off
    export_interval_hours: int = Field(default=0, ge=0, le=720)
    #: each periodic export covers this many hours back
    export_range_hours: int = Field(default=24, ge=1, le=2160)
    #: periodic export files kept (oldest deleted first)
    export_keep_files: int = Field(default=7, ge=1, le=1000)
    #: periodic export format
    export_format: Literal["json", "csv"] = "json"
    #: gzip periodic export files (`.json.gz`)
    export_gzip: bool = True
    #: the health score's weights and bands
    health: HealthSettings = Field(default_factory=HealthSettings)

    @model_validator(mode="after")
    def _tiers_nest(self) -> DashboardSettings:
        if self.rollup_1h_retention_days < self.rollup_1m_retention_days:
            raise ValueError("rollup_1h_retention_days must be at least rollup_1m_retention_days")
        return self


SETTING_NAMES: tuple[str, ...] = tuple(DashboardSettings.model_fields)

_CACHE_KEY = "settings.dashboard"
#: other hub replicas may change settings; re-read at most this often
_CACHE_SECONDS = 5.0


def _read_rows(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(
        select(tables.settings.c.key, tables.settings.c.value).where(
            tables.settings.c.key.in_(SETTING_NAMES)
        )
    ).all()
    return {key: orjson.loads(value) for key, value in rows}


def _parse_stored(stored: dict[str, Any]) -> DashboardSettings:
    """Defaults overlaid with the stored values; a bad stored value falls back to its default."""
    try:
        return DashboardSettings.model_validate(stored)
    except ValidationError:
        good: dict[str, Any] = {}
        for key, value in stored.items():
            try:
                DashboardSettings.model_validate({**good, key: value})
            except ValidationError:
                continue
            good[key] = value
        return DashboardSettings.model_validate(good)


def read_settings(conn: Connection) -> DashboardSettings:
    return _parse_stored(_read_rows(conn))


async def get_settings(ctx: HubContext, *, fresh: bool = False) -> DashboardSettings:
    """The current settings (cached for a few seconds per hub process)."""
    cached: tuple[float, DashboardSettings] | None = ctx.extras.get(_CACHE_KEY)
    now = time.monotonic()
    if cached is not None and not fresh and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
    value = await ctx.db.read(read_settings)
    ctx.extras[_CACHE_KEY] = (now, value)
    return value


def merge_update(current: DashboardSettings, changes: dict[str, Any]) -> DashboardSettings:
    """Apply a partial update; `default_thresholds` and `health` merge key by key. Raises
    ValidationError."""
    data = current.model_dump()
    for key, value in changes.items():
        if key in ("default_thresholds", "health") and isinstance(value, dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return DashboardSettings.model_validate(data)


async def update_settings(
    ctx: HubContext, changes: dict[str, Any], actor: str
) -> DashboardSettings:
    """Validate and store `changes` (a partial update) in one transaction; audit-logged."""

    def job(conn: Connection) -> DashboardSettings:
        new = merge_update(read_settings(conn), changes)
        dumped = new.model_dump()
        for key in changes:
            conn.execute(delete(tables.settings).where(tables.settings.c.key == key))
            conn.execute(
                insert(tables.settings).values(key=key, value=orjson.dumps(dumped[key]).decode())
            )
        record_audit(conn, actor, "settings.update", "settings", changes)
        return new

    value = await ctx.db.write(job)
    ctx.extras[_CACHE_KEY] = (time.monotonic(), value)
    bus: EventBus = ctx.extras.setdefault("events", EventBus())
    bus.publish(SettingsChanged(tuple(sorted(changes))))
    return value


def last_settings(ctx: HubContext) -> DashboardSettings:
    """The settings `get_settings` last read in this process, whatever their age (defaults
    before the first read): for code that cannot wait, such as rendering a card."""
    cached: tuple[float, DashboardSettings] | None = ctx.extras.get(_CACHE_KEY)
    return cached[1] if cached is not None else DashboardSettings()
