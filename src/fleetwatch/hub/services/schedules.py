"""Scheduled messages (H16): at a time, or on a cron expression, send a line to a managed
process's stdin, start / stop / restart it, or run an allow-listed command.

Schedules are rows, so they survive hub restarts; the elected leader runs them
(`run_periodic`, every `TICK_SECONDS`). A one-off schedule missed by more than `LATE_SECONDS`
(the hub was down) ends `missed` instead of running late. Each run goes through the same
checks as the API (`processes.enqueue`, `commands.create`: agent offline, not allowed, ...);
a refusal is the run's `last_result` and ends a one-off schedule `failed` (a cron schedule
keeps its next run). `warn_then_restart` makes the operator's classic: "restarting in 10
minutes", 5, 1, then the restart, as one group that is listed and cancelled together.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.errors import ApiError
from fleetwatch.hub.services.audit import record as record_audit
from fleetwatch.hub.services.cron import Cron, CronError
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_control import schedules

log = logging.getLogger("fleetwatch.hub.schedules")
TICK_SECONDS = 1.0
LATE_SECONDS = 600.0


def _next(cron: str | None, at: float | None, after: float) -> float | None:
    if cron:
        return Cron.parse(cron).next_after(after)
    return at


def _view(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["argv"] = orjson.loads(item["argv"]) if item["argv"] else None
    return item


async def create(
    ctx: HubContext, actor: str, server_id: str, spec: dict[str, Any], group_id: str | None = None
) -> dict[str, Any]:
    """One schedule from a validated `spec` (`kind`, `process`, `text`, `argv`, `at`, `cron`,
    `label`); 404 unknown server, 422 a bad cron or a time in the past."""
    now = time.time()
    try:
        first = _next(spec.get("cron"), spec.get("at"), now)
    except CronError as exc:
        raise ApiError(422, "invalid", f"cron: {exc}", "cron") from None
    if first is None or (spec.get("at") is not None and first < now - 1):
        raise ApiError(
            422,
            "invalid",
            "at: the time has passed" if spec.get("at") else "cron: the expression never matches",
            "at" if spec.get("at") else "cron",
        )
    sid = str(uuid.uuid4())
    argv = spec.get("argv")
    values = {
        "id": sid,
        "server_id": server_id,
        "group_id": group_id,
        "kind": spec["kind"],
        "label": spec.get("label") or _label(spec),
        "process": spec.get("process"),
        "text": spec.get("text"),
        "argv": orjson.dumps(argv).decode() if argv else None,
        "at": spec.get("at"),
        "cron": spec.get("cron"),
        "next_run": first,
        "state": "active",
        "runs": 0,
        "created_by": actor,
        "created_at": now,
    }

    def job(conn: Connection) -> dict[str, Any]:
        if conn.execute(select(servers.c.id).where(servers.c.id == server_id)).first() is None:
            raise ApiError(404, "not_found", f"no server with id {server_id!r}")
        conn.execute(insert(schedules).values(**values))
        record_audit(
            conn,
            actor,
            "schedule.create",
            server_id,
            {"schedule_id": sid, "label": values["label"], "next_run": first},
        )
        return _view(conn.execute(select(schedules).where(schedules.c.id == sid)).one())

    return await ctx.db.write(job)


def _label(spec: dict[str, Any]) -> str:
    if spec["kind"] == "input":
        return f"say {spec.get('text', '')[:60]!r} to {spec.get('process')}"
    if spec["kind"] == "process":
        return f"{spec.get('text')} {spec.get('process')}"
    return f"run {' '.join(spec.get('argv') or [])[:80]}"


async def warn_then_restart(
    ctx: HubContext,
    actor: str,
    server_id: str,
    process: str,
    at: float,
    warnings: list[float],
    message: str,
) -> dict[str, Any]:
    """Lines "`message`" at `at` minus each of `warnings` (seconds), then a restart at `at`."""
    group = str(uuid.uuid4())
    made = []
    for before in sorted(set(warnings), reverse=True):
        minutes = before / 60
        text = message.replace("{minutes}", f"{minutes:g}").replace("{seconds}", f"{before:g}")
        made.append(
            await create(
                ctx,
                actor,
                server_id,
                {"kind": "input", "process": process, "text": text, "at": at - before},
                group,
            )
        )
    made.append(
        await create(
            ctx,
            actor,
            server_id,
            {"kind": "process", "process": process, "text": "restart", "at": at},
            group,
        )
    )
    return {"group_id": group, "schedules": made}


async def for_server(ctx: HubContext, server_id: str) -> list[dict[str, Any]]:
    def q(conn: Connection) -> list[dict[str, Any]]:
        s = schedules.c
        rows = conn.execute(
            select(schedules)
            .where(s.server_id == server_id)
            .order_by(s.state != "active", s.next_run, s.created_at.desc())
            .limit(200)
        ).all()
        return [_view(r) for r in rows]

    return await ctx.db.read(q)


async def cancel(ctx: HubContext, actor: str, schedule_id: str) -> dict[str, Any]:
    """Cancel a schedule, or every active one of its group."""

    def job(conn: Connection) -> dict[str, Any]:
        s = schedules.c
        row = conn.execute(select(schedules).where(s.id == schedule_id)).first()
        if row is None:
            raise ApiError(404, "not_found", f"no schedule with id {schedule_id!r}")
        if row.state != "active":
            raise ApiError(409, "finished", f"the schedule is already {row.state}")
        which = s.group_id == row.group_id if row.group_id else s.id == row.id
        done = conn.execute(
            update(schedules)
            .where(which, s.state == "active")
            .values(state="cancelled", next_run=None)
        )
        record_audit(
            conn,
            actor,
            "schedule.cancel",
            row.server_id,
            {"schedule_id": schedule_id, "cancelled": done.rowcount},
        )
        return {"id": schedule_id, "cancelled": int(done.rowcount or 0)}

    return await ctx.db.write(job)


async def _run_one(ctx: HubContext, row: Any) -> str:
    from fleetwatch.hub.services import commands, processes

    actor = f"schedule:{row.label}"[:200] + f" (by {row.created_by})"
    if row.kind == "command":
        made = await commands.create(
            ctx, actor, row.server_id, orjson.loads(row.argv), None, 60.0, {}
        )
        return f"command {made['id']} started"
    action = "input" if row.kind == "input" else str(row.text)
    text = row.text if row.kind == "input" else None
    rid = await processes.enqueue(ctx, actor, row.server_id, str(row.process), action, text)
    return f"request {rid} sent"


def _finish_run(conn: Connection, schedule_id: str, values: dict[str, Any]) -> None:
    s = schedules.c
    conn.execute(update(schedules).where(s.id == schedule_id, s.state == "active").values(**values))


async def run_due(ctx: HubContext, now: float | None = None) -> int:
    """Run every schedule due now; how many ran."""
    now = time.time() if now is None else now
    s = schedules.c
    due = await ctx.db.read(
        lambda conn: conn.execute(
            select(schedules).where(s.state == "active", s.next_run <= now).order_by(s.next_run)
        ).all()
    )
    for row in due:
        one_off = not row.cron
        if one_off and row.next_run < now - LATE_SECONDS:
            state, result, following = "missed", "the hub was down at its time", None
        else:
            try:
                result, state = await _run_one(ctx, row), "done" if one_off else "active"
            except ApiError as exc:
                result, state = f"{exc.code}: {exc.message}", "failed" if one_off else "active"
            following = None if one_off else _next(row.cron, None, now)
            if not one_off and following is None:
                state = "done"
        values = {
            "state": state,
            "next_run": following,
            "last_result": result[:2000],
            "runs": row.runs + (state != "missed"),
            "last_run": now,
        }
        await ctx.db.write(functools.partial(_finish_run, schedule_id=row.id, values=values))
        log.info("schedule %s (%s): %s", row.id, row.label, result)
    return len(due)


async def run_periodic(ctx: HubContext) -> None:
    while True:
        try:
            await run_due(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("schedules: running due schedules failed")
        await asyncio.sleep(TICK_SECONDS)
