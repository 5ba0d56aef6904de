"""The log rule dry run (issue 22, B8): "would have matched 37 times in 24 h".

The rule (saved or not) is run over the lines stored in the last `hours` (its server, app and
level narrow the lines read), oldest first, with the same cooldown steps as live evaluation
(`alerts/logrules.simulate`): how many lines matched, how many alerts would have fired and
notified, per server, and the newest matching lines as samples. At most `MAX_LINES` lines
are read (the newest); the answer says when that cut the window. Samples are the newest
matching lines.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.alerts import logrules
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.logrules import validate
from fleetwatch.hub.services.logs import LEVEL_NAMES
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_logs import log_lines

MAX_LINES = 1_000_000
CHUNK = 20_000
SAMPLES = 10


def parse_request(data: Mapping[str, Any]) -> tuple[logrules.LogRule, float]:
    nested = data.get("rule")
    body = nested if isinstance(nested, dict) else {k: v for k, v in data.items() if k != "hours"}
    values = validate(body)
    hours = data.get("hours", 24)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 720:
        raise InvalidFieldError("hours", "expected a number of hours in (0, 720]")
    return logrules.rule_of({"id": 0, **values}), float(hours)


def _floor_ts(conn: Connection, rule: logrules.LogRule, since: float) -> float | None:
    """The time before which lines are not read (the newest `MAX_LINES` of the window), or
    None when the window holds fewer."""
    c = log_lines.c
    query = select(c.ts).where(c.ts >= since).order_by(c.ts.desc()).offset(MAX_LINES).limit(1)
    if rule.server_id is not None:
        query = query.where(c.server_id == rule.server_id)
    found = conn.execute(query).scalar()
    return float(found) if found is not None else None


def replay(conn: Connection, rule: logrules.LogRule, hours: float, now: float) -> dict[str, Any]:
    """(Reader) the dry run's answer; lines are read in time order (keyset on ts, id)."""
    matches = logrules.compile_pattern(rule.kind, rule.pattern, rule.case_sensitive)
    c = log_lines.c
    floor = _floor_ts(conn, rule, now - hours * 3600.0)
    since = now - hours * 3600.0 if floor is None else floor
    base = select(c.id, c.server_id, c.ts, c.app, c.level, c.message)
    for wanted, condition in (
        (rule.server_id, c.server_id == rule.server_id),
        (rule.app, c.app == rule.app),
        (rule.min_level, c.level >= (rule.min_level or 0)),
    ):
        if wanted is not None:
            base = base.where(condition)
    base = base.order_by(c.ts, c.id).limit(CHUNK)
    replays: dict[str, logrules.Replay] = {}
    samples: list[dict[str, Any]] = []
    scanned, page = 0, base.where(c.ts >= since)
    while chunk := conn.execute(page).all():
        scanned += len(chunk)
        last = chunk[-1]
        page = base.where(or_(c.ts > last.ts, and_(c.ts == last.ts, c.id > last.id)))
        for r in chunk:
            if matches(r.message):
                logrules.simulate(replays, r.server_id, r.ts, rule.cooldown_seconds)
                samples.append(_sample(r))
                del samples[:-SAMPLES]
    names = _names(conn, list(replays))
    total = sum(r.matches for r in replays.values())
    fired = sum(r.fired for r in replays.values())
    return {
        "hours": hours,
        "matches": total,
        "would_fire": fired,
        "notifications": sum(r.notifications for r in replays.values()),
        "scanned": scanned,
        "truncated": floor is not None,
        "servers": [
            {
                "server_id": sid,
                "hostname": names.get(sid, sid),
                "matches": r.matches,
                "would_fire": r.fired,
            }
            for sid, r in sorted(replays.items(), key=lambda kv: -kv[1].matches)
        ],
        "samples": samples[::-1],
        "summary": _summary(total, fired, hours),
    }


def _sample(r: Any) -> dict[str, Any]:
    level = LEVEL_NAMES.get(r.level, str(r.level))
    return {
        "id": r.id,
        "server_id": r.server_id,
        "ts": r.ts,
        "app": r.app,
        "level": level,
        "message": r.message,
    }


def _names(conn: Connection, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = conn.execute(select(servers.c.id, servers.c.hostname).where(servers.c.id.in_(ids)))
    return {r.id: r.hostname for r in rows}


def _summary(matches: int, fired: int, hours: float) -> str:
    times = "time" if matches == 1 else "times"
    alerts = "alert" if fired == 1 else "alerts"
    return f"would have matched {matches} {times} in {hours:g} h ({fired} {alerts} fired)"


async def dry_run(ctx: HubContext, data: Mapping[str, Any]) -> dict[str, Any]:
    rule, hours = parse_request(data)
    now = time.time()
    return await ctx.db.read(lambda conn: replay(conn, rule, hours, now))
