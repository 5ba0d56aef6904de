"""`GET /api/dashboard` and the server detail page's data.

The overview must stay fast with thousands of servers, so it never unpacks every server's
latest snapshot per request: each server's summary is cached in memory keyed by its
`last_snapshot_at`, and only servers whose snapshot changed since are unpacked. The cache is
correct with several hub replicas too (the key comes from the database).

Alerts live in another part of the hub; it plugs in through `set_alert_view(ctx, view)`.
Until then the alert counts are 0 and the lists empty.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, select

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.history import read_history
from fleetwatch.hub.services.history_cache import history_cache
from fleetwatch.hub.services.servers import (
    fallback_color,
    hot_summary,
    load_thresholds,
    server_status,
)
from fleetwatch.hub.services.settings import DashboardSettings, get_settings
from fleetwatch.hub.store import tables
from fleetwatch.hub.store.codec import unpack

_CACHE_KEY = "dashboard.summary_cache"
_ALERTS_KEY = "dashboard.alert_view"
_CHUNK = 500

#: what the overview reads per server; `last_seen` last (it changes all the time, the rest
#: rarely: the row without it is the key of the per-server identity cache)
OVERVIEW_COLUMNS = (
    "id",
    "hostname",
    "display_name",
    "ip_address",
    "os_info",
    "group_name",
    "tags",
    "created_at",
    "interval_seconds",
    "thresholds",
    "agent_version",
    "last_snapshot_at",  # the last two change by the minute (`live_fields`, not cached)
    "last_seen",
)
IDENTITY_COLUMNS = (*OVERVIEW_COLUMNS, "notes")
_IDENTITY_CACHE_KEY = "dashboard.identity_cache"


class AlertView(Protocol):
    """What the alerts part of the hub offers the dashboard."""

    async def summary(self) -> dict[str, Any]:
        """`active_alerts`, `critical_alerts`, `unread_notifications` (ints), `recent_alerts`
        (list) and `per_server` ({server_id: {"active": n, "critical": n}})."""
        ...

    async def for_server(self, server_id: str) -> list[dict[str, Any]]:
        """Active and recent alerts of one server."""
        ...

    def for_server_on(self, conn: Connection, server_id: str) -> list[dict[str, Any]]:
        """`for_server` on a connection the caller reads with."""
        ...


def set_alert_view(ctx: HubContext, view: AlertView) -> None:
    ctx.extras[_ALERTS_KEY] = view


async def alert_summary(ctx: HubContext) -> dict[str, Any]:
    """Alert counts for the overview (zeros until the alerts part plugs in its view)."""
    view: AlertView | None = ctx.extras.get(_ALERTS_KEY)
    empty: dict[str, Any] = {
        "active_alerts": 0,
        "critical_alerts": 0,
        "unread_notifications": 0,
        "recent_alerts": [],
        "per_server": {},
    }
    return {**empty, **(await view.summary())} if view is not None else empty


def base_identity(row: Any, color: str | None, defaults: dict[str, float]) -> dict[str, Any]:
    """A server's identity without what changes by the minute (`live_fields`)."""
    try:
        tags = orjson.loads(row.tags) if row.tags else []
    except orjson.JSONDecodeError:
        tags = []
    overrides = load_thresholds(row.thresholds)
    return {
        "id": row.id,
        "hostname": row.hostname,
        "display_name": row.display_name,
        "name": row.display_name or row.hostname,
        "ip_address": row.ip_address,
        "os_info": row.os_info,
        "group_name": row.group_name,
        "group_color": color,
        "tags": tags,
        "created_at": row.created_at,
        "interval_seconds": row.interval_seconds,
        "agent_version": row.agent_version,
        "thresholds": {**defaults, **overrides},
        "threshold_overrides": overrides,
    }


def group_color(group: str | None, colors: dict[str, str]) -> str | None:
    return (colors.get(group) or fallback_color(group)) if group else None


def live_fields(row: Any, settings: DashboardSettings, now: float) -> dict[str, Any]:
    status = server_status(
        row.last_seen, row.interval_seconds, settings.stale_threshold_minutes, now
    )
    return {"status": status, "last_seen": row.last_seen, "last_snapshot_at": row.last_snapshot_at}


def server_identity(
    row: Any, colors: dict[str, str], settings: DashboardSettings, now: float
) -> dict[str, Any]:
    """Everything the API says about a server's identity and state (row with IDENTITY_COLUMNS)."""
    defaults = settings.default_thresholds.model_dump()
    item = base_identity(row, group_color(row.group_name, colors), defaults)
    return {**item, "notes": row.notes, **live_fields(row, settings, now)}


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _read_overview(
    conn: Connection,
    known: dict[str, float | None],
    ids: list[str] | None = None,
    metrics_of: AbstractSet[str] | None = None,
) -> tuple[list[Any], dict[str, str], dict[str, tuple[float | None, dict[str, Any]]]]:
    """Server rows (all, or those in `ids`), group colours, and summaries of servers whose
    snapshot is not in `known` (of those in `metrics_of` only, when given, and of servers
    never read)."""
    s = tables.servers.c
    query = select(*(s[c] for c in OVERVIEW_COLUMNS)).order_by(s.group_name, s.hostname)
    if ids is not None:
        query = query.where(s.id.in_(ids))
    rows = list(conn.execute(query).all())
    colors = {r.name: r.color for r in conn.execute(select(tables.groups)).all()}
    stale = [
        r.id
        for r in rows
        if r.id not in known
        or (known[r.id] != r.last_snapshot_at and (metrics_of is None or r.id in metrics_of))
    ]
    fresh: dict[str, tuple[float | None, dict[str, Any]]] = {}
    for chunk in _chunks(stale):
        for r in conn.execute(
            select(s.id, s.last_snapshot_at, s.latest).where(s.id.in_(chunk))
        ).all():
            fresh[r.id] = (r.last_snapshot_at, hot_summary(unpack(r.latest)))
    return rows, colors, fresh


async def read_rows(
    ctx: HubContext, metrics_of: AbstractSet[str] | None = None
) -> tuple[list[Any], dict[str, str], dict[str, tuple[float | None, dict[str, Any]]]]:
    """Every server's row (OVERVIEW_COLUMNS), the group colours, and the per-process cache of
    the latest snapshots' summaries, brought up to date (see `overview` for `metrics_of`)."""
    cache: dict[str, tuple[float | None, dict[str, Any]]] = ctx.extras.setdefault(_CACHE_KEY, {})
    known = {k: v[0] for k, v in cache.items()}
    rows, colors, fresh = await ctx.db.read(
        lambda conn: _read_overview(conn, known, metrics_of=metrics_of)
    )
    # the cache is only touched here, on the event loop
    cache.update(fresh)
    if len(cache) > len(rows):
        present = {r.id for r in rows}
        for server_id in [k for k in cache if k not in present]:
            del cache[server_id]
    return rows, colors, cache


async def overview(ctx: HubContext, metrics_of: AbstractSet[str] | None = None) -> dict[str, Any]:
    """Summary counts, groups, and every server with its latest numbers (`GET /api/dashboard`).

    `metrics_of`: decode newer snapshots of these servers only; the others keep the numbers
    decoded before (the dashboard's live feed re-reads them when a page shows them)."""
    settings = await get_settings(ctx)
    rows, colors, _ = await read_rows(ctx, metrics_of)
    alerts = await alert_summary(ctx)
    per_server: dict[str, dict[str, int]] = alerts["per_server"]
    now = time.time()
    identities: dict[str, tuple[Any, dict[str, Any]]] = ctx.extras.setdefault(
        _IDENTITY_CACHE_KEY, {}
    )
    if len(identities) > 2 * len(rows) + 100:
        identities.clear()
    servers = _items(ctx, rows, colors, settings, per_server, now)
    groups: dict[str, dict[str, Any]] = {}
    online = 0
    for item in servers:
        online += item["status"] == "online"
        name = item["group_name"]
        if name:
            g = groups.setdefault(
                name, {"name": name, "color": item["group_color"], "servers": 0, "online": 0}
            )
            g["servers"] += 1
            g["online"] += item["status"] == "online"
    return {
        "generated_at": now,
        "summary": {
            "total_servers": len(rows),
            "online_servers": online,
            "offline_servers": len(rows) - online,
            "active_alerts": alerts["active_alerts"],
            "critical_alerts": alerts["critical_alerts"],
            "unread_notifications": alerts["unread_notifications"],
            "groups": len(groups),
        },
        "groups": sorted(groups.values(), key=lambda g: str(g["name"])),
        "servers": servers,
        "alerts": alerts["recent_alerts"],
        "settings": {
            "refresh_interval_seconds": settings.refresh_interval_seconds,
            "stale_threshold_minutes": settings.stale_threshold_minutes,
        },
    }


def _items(
    ctx: HubContext,
    rows: list[Any],
    colors: dict[str, str],
    settings: DashboardSettings,
    per_server: dict[str, dict[str, int]],
    now: float,
) -> list[dict[str, Any]]:
    """One overview item per row (OVERVIEW_COLUMNS), from the per-process caches."""
    cache: dict[str, tuple[float | None, dict[str, Any]]] = ctx.extras.setdefault(_CACHE_KEY, {})
    identities: dict[str, tuple[Any, dict[str, Any]]] = ctx.extras.setdefault(
        _IDENTITY_CACHE_KEY, {}
    )
    defaults = settings.default_thresholds.model_dump()
    defaults_key = tuple(defaults.values())
    empty: dict[str, Any] = {"metrics": None, "disks": []}
    group_colors = {g: group_color(g, colors) for g in {row.group_name for row in rows}}
    out: list[dict[str, Any]] = []
    for row in rows:
        color = group_colors[row.group_name]
        key = (row[:-2], color, defaults_key)
        known_identity = identities.get(row.id)
        if known_identity is None or known_identity[0] != key:
            known_identity = identities[row.id] = (key, base_identity(row, color, defaults))
        entry = cache.get(row.id)
        counts = per_server.get(row.id) or {}
        out.append(
            {
                **known_identity[1],
                **live_fields(row, settings, now),
                **(entry[1] if entry else empty),
                "alert_count": counts.get("active", 0),
                "critical_alert_count": counts.get("critical", 0),
                "health_alert_count": counts.get("health", 0),
                "health_critical_alert_count": counts.get("health_critical", 0),
            }
        )
    return out


async def overview_items(
    ctx: HubContext, ids: list[str], per_server: dict[str, dict[str, int]]
) -> dict[str, dict[str, Any]]:
    """Fresh overview items of the servers in `ids` (those that still exist), as `overview`
    builds them, reading only those rows; alert counts come from `per_server`. What the
    dashboard's live feed uses between full refreshes."""
    if not ids:
        return {}
    settings = await get_settings(ctx)
    cache: dict[str, tuple[float | None, dict[str, Any]]] = ctx.extras.setdefault(_CACHE_KEY, {})
    known = {i: cache[i][0] for i in ids if i in cache}
    rows, colors, fresh = await ctx.db.read(lambda conn: _read_overview(conn, known, ids))
    cache.update(fresh)
    items = _items(ctx, rows, colors, settings, per_server, time.time())
    return {item["id"]: item for item in items}


def _latest_section(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(snapshot, dict):
        return None
    metrics = snapshot.get("metrics") or {}
    return {
        "snapshot_id": snapshot.get("snapshot_id"),
        "collected_at": snapshot.get("collected_at"),
        "metrics": metrics,
        "disks": metrics.get("disks") or [],
        "interfaces": metrics.get("interfaces") or [],
        "processes": snapshot.get("processes") or [],
        "services": snapshot.get("services") or [],
        "watched_processes": snapshot.get("watched_processes") or {},
        "gpus": snapshot.get("gpus") or [],
        "containers": snapshot.get("containers") or [],
        "system": snapshot.get("system"),
        "collection": snapshot.get("collection"),
        "agent": snapshot.get("agent"),
    }


async def server_detail(
    ctx: HubContext, server_id: str, hours: float, metrics: tuple[str, ...] | None = None
) -> dict[str, Any] | None:
    """Identity, latest snapshot, latest live sample and history; None when no such server."""
    settings = await get_settings(ctx)
    cache = history_cache(ctx.extras)

    view: AlertView | None = ctx.extras.get(_ALERTS_KEY)

    def read(conn: Connection) -> tuple[Any, dict[str, str], dict[str, Any], list[Any]] | None:
        s = tables.servers.c
        cols = [s[c] for c in IDENTITY_COLUMNS]
        row = conn.execute(select(*cols, s.latest, s.latest_live).where(s.id == server_id)).first()
        if row is None:
            return None
        colors = {r.name: r.color for r in conn.execute(select(tables.groups)).all()}
        history = read_history(conn, server_id, hours, settings, metrics, cache=cache)
        # in the same read: one trip to the reader pool, not two
        fired = [] if view is None else view.for_server_on(conn, server_id)
        return row, colors, history, fired

    found = await ctx.db.read(read)
    if found is None:
        return None
    row, colors, history, server_alerts = found
    latest = unpack(row.latest)
    return {
        "server": server_identity(row, colors, settings, time.time()),
        "summary": hot_summary(latest),
        "latest": _latest_section(latest),
        "live": unpack(row.latest_live),
        "history": history,
        "alerts": server_alerts,
    }
