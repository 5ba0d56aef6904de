"""Create / read / update / delete of alert rules, channels and maintenance windows.

Every change is validated (`InvalidFieldError` naming the field -> 422), audit-logged in the
same transaction, and then reloaded into the running engine / notifier.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, Table, delete, select, update

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts.catalog import rule_json, validate_rule
from fleetwatch.hub.alerts.channels.registry import (
    open_config,
    public_config,
    seal_config,
    validate_channel,
)
from fleetwatch.hub.alerts.maintenance import from_fields
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.errors import ApiError
from fleetwatch.hub.secretbox import SecretBox, SecretUnreadable
from fleetwatch.hub.services.alerts import RUNTIME_KEY, AlertsRuntime
from fleetwatch.hub.services.audit import record
from fleetwatch.hub.store.tables_alerts import (
    alert_rules,
    channel_stats,
    channels,
    maintenance_windows,
)

_SECRET_MASK = "********"


def _box(ctx: HubContext) -> SecretBox | None:
    runtime: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    return runtime.mail.box if runtime is not None else None


async def _reload(ctx: HubContext, what: str) -> None:
    runtime: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    if runtime is None:
        return
    if what == "channels":
        await runtime.notifier.reload()
    else:
        await runtime.engine.reload()


def _get(conn: Connection, table: Table, item_id: int, label: str) -> Any:
    row = conn.execute(select(table).where(table.c.id == item_id)).first()
    if row is None:
        raise ApiError(404, "not_found", f"no {label} {item_id}")
    return row


async def _save(
    ctx: HubContext,
    table: Table,
    label: str,
    values: dict[str, Any],
    actor: str,
    item_id: int | None,
) -> int:
    def job(conn: Connection) -> int:
        now = time.time()
        if item_id is None:
            extra: dict[str, Any] = {"created_at": now}
            if "updated_at" in table.c:
                extra["updated_at"] = now
            if "created_by" in table.c:
                extra["created_by"] = actor
            result = conn.execute(table.insert().values(**values, **extra))
            assert result.inserted_primary_key is not None
            new_id = int(result.inserted_primary_key[0])
            record(conn, actor, f"{label}.create", str(new_id), _audit_detail(values))
            return new_id
        _get(conn, table, item_id, label)
        changes = {**values, "updated_at": now} if "updated_at" in table.c else values
        conn.execute(update(table).where(table.c.id == item_id).values(**changes))
        record(conn, actor, f"{label}.update", str(item_id), _audit_detail(values))
        return item_id

    return await ctx.db.write(job)


def _audit_detail(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in ("config", "password")}


async def _delete(ctx: HubContext, table: Table, label: str, item_id: int, actor: str) -> None:
    def job(conn: Connection) -> None:
        row = _get(conn, table, item_id, label)
        conn.execute(delete(table).where(table.c.id == item_id))
        if table is channels:
            conn.execute(delete(channel_stats).where(channel_stats.c.channel_id == item_id))
        record(conn, actor, f"{label}.delete", str(item_id), {"name": row.name})

    await ctx.db.write(job)


async def _one(ctx: HubContext, table: Table, label: str, item_id: int) -> Any:
    return await ctx.db.read(lambda conn: _get(conn, table, item_id, label))


# --- rules -------------------------------------------------------------------------------


async def list_rules(ctx: HubContext) -> list[dict[str, Any]]:
    rows = await ctx.db.read(lambda c: list(c.execute(select(alert_rules).order_by("id"))))
    return [rule_json(dict(r._mapping)) for r in rows]


async def get_rule(ctx: HubContext, rule_id: int) -> dict[str, Any]:
    return rule_json(dict((await _one(ctx, alert_rules, "rule", rule_id))._mapping))


async def save_rule(
    ctx: HubContext, data: Mapping[str, Any], actor: str, rule_id: int | None = None
) -> dict[str, Any]:
    """Create, or update (`data` is merged over the stored rule: PATCH semantics)."""
    if rule_id is not None:
        current = await get_rule(ctx, rule_id)
        data = {**current, **data}
    values = validate_rule(data)
    new_id = await _save(ctx, alert_rules, "rule", values, actor, rule_id)
    await _reload(ctx, "rules")
    return await get_rule(ctx, new_id)


async def delete_rule(ctx: HubContext, rule_id: int, actor: str) -> None:
    await _delete(ctx, alert_rules, "rule", rule_id, actor)
    await _reload(ctx, "rules")


# --- channels ----------------------------------------------------------------------------


def _channel_json(m: Mapping[str, Any], stats: dict[str, Any] | None) -> dict[str, Any]:
    out = {k: m[k] for k in m}
    out["config"] = public_config(m["config"])
    out["components"] = orjson.loads(m["components"]) if m["components"] else None
    out["time_window"] = orjson.loads(m["time_window"]) if m["time_window"] else None
    out["stats"] = stats
    return out


def _stats_of(ctx: HubContext, m: Mapping[str, Any], saved: Any) -> dict[str, Any]:
    runtime: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    live = runtime.notifier.stats(int(m["id"])) if runtime is not None else None
    if live is not None:
        return live
    keys = ("handled_total", "errors_total", "filtered_total", "dropped_total",
            "last_success_at", "last_error_at", "last_error")  # fmt: skip
    return {k: (saved._mapping[k] if saved is not None else None) for k in keys}


async def list_channels(ctx: HubContext) -> list[dict[str, Any]]:
    def q(conn: Connection) -> list[dict[str, Any]]:
        stats = {r.channel_id: r for r in conn.execute(select(channel_stats))}
        rows = conn.execute(select(channels).order_by(channels.c.id))
        return [
            _channel_json(dict(r._mapping), _stats_of(ctx, dict(r._mapping), stats.get(r.id)))
            for r in rows
        ]

    return await ctx.db.read(q)


async def get_channel(ctx: HubContext, channel_id: int) -> dict[str, Any]:
    for item in await list_channels(ctx):
        if item["id"] == channel_id:
            return item
    raise ApiError(404, "not_found", f"no channel {channel_id}")


async def save_channel(
    ctx: HubContext, data: Mapping[str, Any], actor: str, channel_id: int | None = None
) -> dict[str, Any]:
    merged = dict(data)
    if channel_id is not None:
        row = dict((await _one(ctx, channels, "channel", channel_id))._mapping)
        try:
            stored = open_config(row["config"], _box(ctx))
        except SecretUnreadable:  # the key changed: the secret must be entered again
            stored = {k: v for k, v in orjson.loads(row["config"]).items() if k != "secret"}
        current = _channel_json(row, None)
        current["config"] = stored
        config = merged.get("config")
        if isinstance(config, dict):  # masked secrets keep their stored value
            merged["config"] = {
                **stored, **{k: v for k, v in config.items() if v != _SECRET_MASK}
            }  # fmt: skip
        merged = {**current, **merged}
    values = validate_channel(merged)
    values["config"] = seal_config(values["config"], _box(ctx))
    new_id = await _save(ctx, channels, "channel", values, actor, channel_id)
    await _reload(ctx, "channels")
    return await get_channel(ctx, new_id)


async def delete_channel(ctx: HubContext, channel_id: int, actor: str) -> None:
    await _delete(ctx, channels, "channel", channel_id, actor)
    await _reload(ctx, "channels")


# --- maintenance windows -----------------------------------------------------------------


def _window_json(m: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: m[k] for k in m}
    out["weekdays"] = orjson.loads(m["weekdays"]) if m["weekdays"] else None
    out["active_now"] = from_fields(out).active(time.time())
    return out


def _weekdays_text(days: frozenset[int]) -> str:
    return orjson.dumps(sorted(days)).decode()


async def list_windows(ctx: HubContext) -> list[dict[str, Any]]:
    rows = await ctx.db.read(lambda c: list(c.execute(select(maintenance_windows).order_by("id"))))
    return [_window_json(dict(r._mapping)) for r in rows]


async def save_window(
    ctx: HubContext, data: Mapping[str, Any], actor: str, window_id: int | None = None
) -> dict[str, Any]:
    if window_id is not None:
        current = _window_json(
            dict((await _one(ctx, maintenance_windows, "window", window_id))._mapping)
        )
        data = {**current, **data}
    name = data.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 255:
        raise InvalidFieldError("name", "expected a name of 1-255 characters")
    window = from_fields(data)
    values = {
        "name": name,
        "scope": window.scope,
        "scope_value": window.scope_value,
        "kind": window.kind,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "weekdays": orjson.dumps(sorted(window.weekly.weekdays)).decode()
        if window.weekly
        else None,
        "start_time": data.get("start_time") if window.weekly else None,
        "end_time": data.get("end_time") if window.weekly else None,
        "timezone": data.get("timezone") or "UTC",
        "enabled": window.enabled,
    }
    new_id = await _save(ctx, maintenance_windows, "maintenance", values, actor, window_id)
    await _reload(ctx, "windows")
    row = await _one(ctx, maintenance_windows, "window", new_id)
    return _window_json(dict(row._mapping))


async def delete_window(ctx: HubContext, window_id: int, actor: str) -> None:
    await _delete(ctx, maintenance_windows, "maintenance", window_id, actor)
    await _reload(ctx, "windows")
