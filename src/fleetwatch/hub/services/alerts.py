"""Alerts as the rest of the hub sees them: start/stop, active alerts, acknowledge, history,
notifications, counts for the dashboard, disk forecasts for server detail.

`start_alerts(ctx)` (from the app lifespan) builds the event bus (`ctx.extras["events"]`),
the mail service (`ctx.extras["mail"]`, also the account mailer `ctx.extras["user_mailer"]`),
the notifier and the engine (`ctx.extras["alerts"]`), seeds the default rules and the in-app
channel on first start, and plugs an `AlertView` into the dashboard summary.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from sqlalchemy import Connection, func, select, update

from fleetwatch.hub.alerts.catalog import DEFAULT_RULES
from fleetwatch.hub.alerts.channels.registry import seal_stored as seal_stored_channels
from fleetwatch.hub.alerts.engine import AlertEngine
from fleetwatch.hub.alerts.forecast import disk_forecasts_sync
from fleetwatch.hub.alerts.state import OPEN_STATES, alert_dict
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.errors import ApiError
from fleetwatch.hub.events import EventBus
from fleetwatch.hub.mail.service import MailService, read_setting, write_setting
from fleetwatch.hub.secretbox import load_box
from fleetwatch.hub.services.audit import record
from fleetwatch.hub.services.notify import DeliveryPolicy, Notifier
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_alerts import alert_rules, alerts, channels, notifications

RUNTIME_KEY = "alerts"
UNREAD_LIMIT = 50


@dataclass
class AlertsRuntime:
    bus: EventBus
    mail: MailService
    notifier: Notifier
    engine: AlertEngine


def seed_defaults(conn: Connection) -> bool:
    """First start: the default rules and the in-app channel. True when it seeded."""
    if read_setting(conn, "seeded"):
        return False
    now = time.time()
    for name, metric, warning, critical, enabled in DEFAULT_RULES:
        conn.execute(alert_rules.insert().values(
            name=name, metric=metric, scope="global", warning=warning, critical=critical,
            duration_seconds=0.0, hysteresis=0.0, cooldown_seconds=300.0, repeat_seconds=0.0,
            enabled=enabled, builtin=True, created_at=now, updated_at=now,
        ))  # fmt: skip
    conn.execute(channels.insert().values(
        name="In-app notifications", kind="inapp", config="{}", min_level="WARNING",
        send_resolved=True, enabled=True, created_at=now, updated_at=now,
    ))  # fmt: skip
    write_setting(conn, "seeded", True)
    return True


async def start_alerts(
    ctx: HubContext,
    *,
    policy: DeliveryPolicy | None = None,
    check_interval_seconds: float = 15.0,
) -> AlertsRuntime:
    from fleetwatch.hub.services import dashboard, settings
    from fleetwatch.hub.services.servers import offline_after_seconds

    await ctx.db.write(seed_defaults)
    bus: EventBus = ctx.extras.setdefault("events", EventBus())
    box = load_box(ctx.settings.secret_key, ctx.settings.data_dir)
    mail = MailService(ctx.db, box)
    await mail.seal_stored()  # secrets stored before encryption existed
    await ctx.db.write(lambda conn: seal_stored_channels(conn, box))
    notifier = Notifier(ctx.db, mail, policy)
    engine = AlertEngine(ctx.db, bus, notifier, check_interval_seconds=check_interval_seconds)

    async def refresh_defaults() -> None:
        current = await settings.get_settings(ctx)
        engine.default_thresholds = current.default_thresholds.model_dump()
        stale = current.stale_threshold_minutes
        engine.offline_after = lambda interval: offline_after_seconds(stale, interval)

    async def health_scores() -> dict[str, float]:
        from fleetwatch.hub.services import health

        return {s["id"]: s["score"] for s in (await health.health(ctx))["servers"]}

    await refresh_defaults()
    engine.before_check = refresh_defaults
    engine.health_of = health_scores
    await notifier.start()
    await engine.start()
    runtime = AlertsRuntime(bus, mail, notifier, engine)
    ctx.extras[RUNTIME_KEY] = runtime
    ctx.extras["mail"] = mail
    ctx.extras.setdefault("user_mailer", mail)
    dashboard.set_alert_view(ctx, AlertView(ctx))
    return runtime


async def stop_alerts(ctx: HubContext) -> None:
    runtime: AlertsRuntime | None = ctx.extras.pop(RUNTIME_KEY, None)
    if runtime is not None:
        await runtime.engine.stop()
        await runtime.notifier.close()


def runtime_of(ctx: HubContext) -> AlertsRuntime:
    runtime: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    if runtime is None:
        raise ApiError(503, "alerts_unavailable", "the alert engine is not running")
    return runtime


# --- alerts ------------------------------------------------------------------------------


def _names(conn: Connection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = conn.execute(
        select(servers.c.id, servers.c.display_name, servers.c.hostname).where(
            servers.c.id.in_(ids)
        )
    )
    return {r.id: r.display_name or r.hostname for r in rows}


def _dicts(conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
    names = _names(conn, {r.server_id for r in rows})
    return [alert_dict(r, names.get(r.server_id)) for r in rows]


async def list_active(ctx: HubContext, server_id: str | None = None) -> list[dict[str, Any]]:
    """Firing (not yet acknowledged) alerts, newest first (seed 001 `GET .../alerts`)."""

    def q(conn: Connection) -> list[dict[str, Any]]:
        stmt = select(alerts).where(alerts.c.state == "firing")
        if server_id is not None:
            stmt = stmt.where(alerts.c.server_id == server_id)
        return _dicts(conn, list(conn.execute(stmt.order_by(alerts.c.fired_at.desc()))))

    return await ctx.db.read(q)


async def acknowledge(ctx: HubContext, alert_id: int, actor: str) -> dict[str, Any]:
    def job(conn: Connection) -> dict[str, Any]:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            raise ApiError(404, "not_found", f"no alert {alert_id}", "alert_id")
        if row.state == "firing":
            now = time.time()
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
                state="acknowledged", acknowledged_at=now, acknowledged_by=actor, updated_at=now,
            ))  # fmt: skip
            record(conn, actor, "alert.acknowledge", str(alert_id), {"message": row.message})
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).one()
        return _dicts(conn, [row])[0]

    result = await ctx.db.write(job)
    runtime: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    if runtime is not None:
        runtime.engine.mark_acknowledged(alert_id)
    return result


async def get_alert(ctx: HubContext, alert_id: int) -> dict[str, Any] | None:
    """One alert (any state) with its server's name; None when there is no such alert."""

    def q(conn: Connection) -> dict[str, Any] | None:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        return None if row is None else _dicts(conn, [row])[0]

    return await ctx.db.read(q)


class HistoryFilter(TypedDict, total=False):
    """What `history` selects by; every key optional (`limit` 100 and `offset` 0 by default)."""

    server_id: str | None
    level: str | None
    state: str | None
    since: float | None
    until: float | None
    limit: int
    offset: int


def query_history(conn: Connection, **where: Unpack[HistoryFilter]) -> dict[str, Any]:
    """`history` on an open connection (a caller already reading in the pool joins it)."""
    conds = []
    if server_id := where.get("server_id"):
        conds.append(alerts.c.server_id == server_id)
    if level := where.get("level"):
        conds.append(alerts.c.level == level)
    state = where.get("state")
    if state == "open":
        conds.append(alerts.c.state.in_(OPEN_STATES))
    elif state:
        conds.append(alerts.c.state == state)
    if (since := where.get("since")) is not None:
        conds.append(alerts.c.fired_at >= since)
    if (until := where.get("until")) is not None:
        conds.append(alerts.c.fired_at < until)
    total = conn.execute(select(func.count()).select_from(alerts).where(*conds)).scalar_one()
    stmt = select(alerts).where(*conds).order_by(alerts.c.fired_at.desc(), alerts.c.id.desc())
    page = stmt.limit(where.get("limit", 100)).offset(where.get("offset", 0))
    return {"total": total, "alerts": _dicts(conn, list(conn.execute(page)))}


async def history(ctx: HubContext, **where: Unpack[HistoryFilter]) -> dict[str, Any]:
    return await ctx.db.read(functools.partial(query_history, **where))


# --- notifications -----------------------------------------------------------------------


async def unread_notifications(ctx: HubContext) -> list[dict[str, Any]]:
    def q(conn: Connection) -> list[dict[str, Any]]:
        stmt = (
            select(notifications)
            .where(notifications.c.read.is_(False))
            .order_by(notifications.c.ts.desc(), notifications.c.id.desc())
            .limit(UNREAD_LIMIT)
        )
        return [dict(r._mapping) for r in conn.execute(stmt)]

    return await ctx.db.read(q)


async def mark_read(ctx: HubContext, notification_id: int | None, mark_all: bool) -> int:
    """Mark one (or every) notification read; the number changed."""

    def job(conn: Connection) -> int:
        stmt = update(notifications).where(notifications.c.read.is_(False))
        if not mark_all:
            exists = conn.execute(
                select(notifications.c.id).where(notifications.c.id == notification_id)
            ).first()
            if exists is None:
                raise ApiError(404, "not_found", f"no notification {notification_id}",
                               "notification_id")  # fmt: skip
            stmt = stmt.where(notifications.c.id == notification_id)
        return int(conn.execute(stmt.values(read=True, read_at=time.time())).rowcount)

    return await ctx.db.write(job)


# --- what other parts of the hub use -----------------------------------------------------


async def alert_counts(ctx: HubContext) -> dict[str, int]:
    """`active_alerts` (open), `critical_alerts` (open and critical), `unread_notifications`."""

    def q(conn: Connection) -> dict[str, int]:
        open_ = alerts.c.state.in_(OPEN_STATES)
        count = select(func.count()).select_from(alerts)
        unread = select(func.count()).select_from(notifications)
        return {
            "active_alerts": conn.execute(count.where(open_)).scalar_one(),
            "critical_alerts": conn.execute(
                count.where(open_, alerts.c.level == "CRITICAL")
            ).scalar_one(),
            "unread_notifications": conn.execute(
                unread.where(notifications.c.read.is_(False))
            ).scalar_one(),
        }

    return await ctx.db.read(q)


async def disk_forecasts(ctx: HubContext, server_id: str) -> list[dict[str, Any]]:
    """B5: per mount `days_until_full` (None = not filling up / too little history)."""
    now = time.time()
    return await ctx.db.read(lambda conn: disk_forecasts_sync(conn, server_id, now))


class AlertView:
    """The dashboard's view of alerts (`services.dashboard.AlertView`)."""

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx

    async def summary(self) -> dict[str, Any]:
        counts = await alert_counts(self.ctx)

        def q(conn: Connection) -> dict[str, Any]:
            open_rows = list(conn.execute(select(alerts).where(alerts.c.state.in_(OPEN_STATES))))
            per_server: dict[str, dict[str, int]] = {}
            for r in open_rows:
                entry = per_server.setdefault(
                    r.server_id, {"active": 0, "critical": 0, "health": 0, "health_critical": 0}
                )
                entry["active"] += 1
                entry["critical"] += r.level == "CRITICAL"
                if r.metric == "health_score":  # the score leaves these out (no feedback)
                    entry["health"] += 1
                    entry["health_critical"] += r.level == "CRITICAL"
            recent = list(conn.execute(select(alerts).order_by(alerts.c.fired_at.desc()).limit(20)))
            return {"per_server": per_server, "recent_alerts": _dicts(conn, recent)}

        return {**counts, **(await self.ctx.db.read(q))}

    async def for_server(self, server_id: str) -> list[dict[str, Any]]:
        return await self.ctx.db.read(functools.partial(self.for_server_on, server_id=server_id))

    def for_server_on(self, conn: Connection, server_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = query_history(conn, server_id=server_id, limit=50)["alerts"]
        return items
