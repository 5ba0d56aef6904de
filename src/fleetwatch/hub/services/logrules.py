"""Log rules as the hub runs them (issue 22, B8): create / change / delete (validated,
audited), evaluation of every stored batch (`on_lines`, from `POST /api/logs`), the leader's
resolver of quiet log alerts (`run_periodic`), and the dry run over stored lines
(`services/logrules_dryrun.py`).

Every process keeps the enabled rules compiled (`Matcher`) for `CACHE_SECONDS`, and drops
them at once when it changes a rule itself: a rule changed through another hub process applies
here within that time.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts import logrules
from fleetwatch.hub.alerts.logrules import LogRule, Matcher
from fleetwatch.hub.alerts.maintenance import silenced
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.errors import ApiError
from fleetwatch.hub.events import AlertsChanged, EventBus
from fleetwatch.hub.services.alerts import RUNTIME_KEY, AlertsRuntime
from fleetwatch.hub.services.audit import record
from fleetwatch.hub.services.logs import LEVELS, Line
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_logs import APP_LENGTH, log_rules

log = logging.getLogger("fleetwatch.hub.logrules")
CACHE_SECONDS = 5.0
RESOLVE_SECONDS = 15.0
KINDS = ("text", "regex")
ALERT_LEVELS = ("WARNING", "CRITICAL")
DEFAULT_COOLDOWN = 300.0
MAX_PATTERN = 512
_CACHE_KEY = "logrules.matcher"


@dataclass
class _Cache:
    matcher: Matcher
    rules: dict[int, LogRule]
    loaded_at: float


# --- validation and JSON -----------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    raw = data.get(name)
    if raw is None or raw == "":
        if required:
            raise InvalidFieldError(name, "required")
        return None
    if not isinstance(raw, str) or len(raw) > limit:
        raise InvalidFieldError(name, f"expected a string of at most {limit} characters")
    return raw


def validate(data: Mapping[str, Any]) -> dict[str, Any]:
    """Checked column values for `log_rules` (`InvalidFieldError` naming the field)."""
    unknown = set(data) - {*FIELDS, "id", "created_at", "updated_at", "created_by"}
    if unknown:
        raise InvalidFieldError(sorted(unknown)[0], "unknown field")
    kind = data.get("kind") or "text"
    if kind not in KINDS:
        raise InvalidFieldError("kind", f"expected one of {', '.join(KINDS)}")
    pattern = _text(data, "pattern", MAX_PATTERN, required=True)
    assert pattern is not None
    case_sensitive = data.get("case_sensitive", False)
    if not isinstance(case_sensitive, bool):
        raise InvalidFieldError("case_sensitive", "expected true or false")
    try:
        logrules.compile_pattern(kind, pattern, case_sensitive)
    except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}: OverflowError
        raise InvalidFieldError("pattern", f"not a valid regular expression: {exc}") from None
    level = data.get("min_level")
    if level is not None and level not in LEVELS:
        raise InvalidFieldError("min_level", f"expected one of {', '.join(LEVELS)} or null")
    alert_level = data.get("alert_level") or "WARNING"
    if alert_level not in ALERT_LEVELS:
        raise InvalidFieldError("alert_level", f"expected one of {', '.join(ALERT_LEVELS)}")
    cooldown = data.get("cooldown_seconds", DEFAULT_COOLDOWN)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int | float):
        raise InvalidFieldError("cooldown_seconds", "expected a number of seconds")
    if not 0 <= cooldown <= 7 * 86400:
        raise InvalidFieldError("cooldown_seconds", "expected 0 .. 604800 seconds")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidFieldError("enabled", "expected true or false")
    return {
        "name": _text(data, "name", 255) or pattern[:255],
        "kind": kind,
        "pattern": pattern,
        "case_sensitive": case_sensitive,
        "server_id": _text(data, "server_id", 36),
        "app": _text(data, "app", APP_LENGTH),
        "min_level": LEVELS[level] if level is not None else None,
        "alert_level": alert_level,
        "cooldown_seconds": float(cooldown),
        "enabled": enabled,
    }


FIELDS = (
    "name",
    "kind",
    "pattern",
    "case_sensitive",
    "server_id",
    "app",
    "min_level",
    "alert_level",
    "cooldown_seconds",
    "enabled",
)
_LEVEL_NAMES = {number: name for name, number in LEVELS.items()}


def rule_json(m: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: m[k] for k in ("id", *FIELDS, "created_at", "updated_at", "created_by")}
    out["min_level"] = _LEVEL_NAMES.get(m["min_level"]) if m["min_level"] is not None else None
    return out


# --- CRUD --------------------------------------------------------------------------------


def _get(conn: Connection, rule_id: int) -> Any:
    row = conn.execute(select(log_rules).where(log_rules.c.id == rule_id)).first()
    if row is None:
        raise ApiError(404, "not_found", f"no log rule {rule_id}")
    return row


async def list_rules(ctx: HubContext) -> list[dict[str, Any]]:
    rows = await ctx.db.read(lambda c: list(c.execute(select(log_rules).order_by(log_rules.c.id))))
    return [rule_json(dict(r._mapping)) for r in rows]


async def get_rule(ctx: HubContext, rule_id: int) -> dict[str, Any]:
    return rule_json(dict((await ctx.db.read(lambda conn: _get(conn, rule_id)))._mapping))


async def save_rule(
    ctx: HubContext, data: Mapping[str, Any], actor: str, rule_id: int | None = None
) -> dict[str, Any]:
    """Create, or update (`data` merged over the stored rule: PATCH semantics)."""
    if rule_id is not None:
        data = {**(await get_rule(ctx, rule_id)), **data}
    values = validate(data)

    def job(conn: Connection) -> int:
        now = time.time()
        if rule_id is None:
            extra = {"created_at": now, "updated_at": now, "created_by": actor}
            result = conn.execute(log_rules.insert().values(**values, **extra))
            assert result.inserted_primary_key is not None
            new_id = int(result.inserted_primary_key[0])
            record(conn, actor, "log_rule.create", str(new_id), values)
            return new_id
        _get(conn, rule_id)
        where = log_rules.c.id == rule_id
        conn.execute(update(log_rules).where(where).values(**values, updated_at=now))
        record(conn, actor, "log_rule.update", str(rule_id), values)
        return rule_id

    new_id = await ctx.db.write(job)
    ctx.extras.pop(_CACHE_KEY, None)
    return await get_rule(ctx, new_id)


async def delete_rule(ctx: HubContext, rule_id: int, actor: str) -> None:
    def job(conn: Connection) -> None:
        row = _get(conn, rule_id)
        conn.execute(delete(log_rules).where(log_rules.c.id == rule_id))
        record(conn, actor, "log_rule.delete", str(rule_id), {"name": row.name})

    await ctx.db.write(job)
    ctx.extras.pop(_CACHE_KEY, None)


async def server_names(ctx: HubContext) -> dict[str, str]:
    """Server id -> name, for the rule editor's choice of server."""
    c = servers.c
    query = select(c.id, c.hostname, c.display_name).order_by(c.hostname)
    rows = await ctx.db.read(lambda conn: list(conn.execute(query)))
    return {r.id: r.display_name or r.hostname for r in rows}


# --- evaluation --------------------------------------------------------------------------


async def _cache(ctx: HubContext) -> _Cache:
    found: _Cache | None = ctx.extras.get(_CACHE_KEY)
    now = time.monotonic()
    if found is not None and now - found.loaded_at < CACHE_SECONDS:
        return found
    rows = await ctx.db.read(lambda c: list(c.execute(select(log_rules))))
    rules = {int(r.id): logrules.rule_of(dict(r._mapping)) for r in rows}
    enabled = [r for r in rules.values() if r.enabled]
    cache = ctx.extras[_CACHE_KEY] = _Cache(Matcher(enabled), rules, now)
    return cache


def _deliver(ctx: HubContext, events: list[Any]) -> None:
    runtime: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    if runtime is not None and events:
        runtime.notifier.submit(events)
    bus: EventBus | None = ctx.extras.get("events")
    if bus is not None and events:
        bus.publish(AlertsChanged(tuple(events)))


def _quiet(ctx: HubContext, server_id: str, now: float) -> bool:
    runtime: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    if runtime is None:
        return False
    info = runtime.engine.servers.get(server_id)
    return silenced(runtime.engine.windows, server_id, info.group if info else None, now)


async def on_lines(ctx: HubContext, server_id: str, lines: Sequence[Line]) -> int:
    """Run the rules over one server's stored batch; the number of alert events raised."""
    cache = await _cache(ctx)
    rows = ((ln.app, LEVELS[ln.level], ln.message, ln.ts) for ln in lines)
    hits = cache.matcher.hits(server_id, rows)
    if not hits:
        return 0
    now = time.time()
    quiet = _quiet(ctx, server_id, now)
    events = await ctx.db.write(lambda conn: logrules.apply_hits(conn, server_id, hits, now, quiet))
    _deliver(ctx, events)
    return len(events)


async def resolve_quiet(ctx: HubContext, now: float | None = None) -> int:
    """Resolve the log alerts quiet for their rule's cooldown; the number resolved."""
    ctx.extras.pop(_CACHE_KEY, None)  # the leader's own view is never stale here
    rules = (await _cache(ctx)).rules
    at = time.time() if now is None else now
    events = await ctx.db.write(lambda conn: logrules.resolve_quiet(conn, rules, at))
    _deliver(ctx, events)
    return len(events)


async def run_periodic(ctx: HubContext) -> None:
    """(Leader) resolve quiet log alerts every `RESOLVE_SECONDS`."""
    while True:
        await asyncio.sleep(RESOLVE_SECONDS)
        try:
            await resolve_quiet(ctx)
        except Exception:  # the loop must survive a failed pass
            log.exception("resolving quiet log alerts failed")
