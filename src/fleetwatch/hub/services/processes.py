"""Managed processes on the hub's side (A14, issue 21.3): what each agent reported about its
processes, their last output lines, and the start / stop / restart / kill / input requests.

A request is a `process_requests` row (`queued`); the hub process holding the agent's channel
sends it (`control/dispatch.py`, `sent`), the agent's `ack` ends it (`done` or `failed` with
the agent's reason). `request` waits up to `WAIT_SECONDS` for that answer, so an API caller
usually learns the outcome in the same call (202 with `state: queued|sent` when it takes
longer). Like commands, requests are refused with 409 while the agent has no channel, and a
request no process sent within `QUEUE_SECONDS` ends `expired`. Every request is audited.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.errors import ApiError
from fleetwatch.hub.services.audit import record as record_audit
from fleetwatch.hub.services.commands import _link
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_control import (
    LINES_KEPT,
    managed_processes,
    process_lines,
    process_requests,
)

WAIT_SECONDS = 5.0
ACTIONS = ("start", "stop", "restart", "kill", "input")


def _known(conn: Connection, server_id: str) -> None:
    if conn.execute(select(servers.c.id).where(servers.c.id == server_id)).first() is None:
        raise ApiError(404, "not_found", f"no server with id {server_id!r}")


def _states(conn: Connection, server_id: str) -> dict[str, dict[str, Any]]:
    m = managed_processes.c
    rows = conn.execute(select(m.name, m.state).where(m.server_id == server_id)).all()
    return {r.name: orjson.loads(r.state) for r in rows}


async def list_processes(ctx: HubContext, server_id: str) -> dict[str, Any]:
    def q(conn: Connection) -> dict[str, Any]:
        _known(conn, server_id)
        link = _link(conn, server_id, time.time())
        states = _states(conn, server_id)
        now = time.time()
        items = []
        for name in sorted(states):
            s = states[name]
            started = s.get("started_at")
            uptime = now - started if s.get("state") == "running" and started else None
            items.append({**s, "uptime_seconds": uptime})
        return {"server_id": server_id, "connected": link is not None, "processes": items}

    return await ctx.db.read(q)


async def process_detail(ctx: HubContext, server_id: str, name: str, after: int) -> dict[str, Any]:
    def q(conn: Connection) -> dict[str, Any]:
        _known(conn, server_id)
        state = _states(conn, server_id).get(name)
        if state is None:
            raise ApiError(404, "not_found", f"no managed process {name!r} on this server")
        p = process_lines.c
        rows = conn.execute(
            select(p.seq, p.ts, p.data)
            .where(p.server_id == server_id, p.name == name, p.seq > after)
            .order_by(p.seq)
        ).all()
        lines = [{"seq": r.seq, "ts": r.ts, "data": r.data} for r in rows]
        return {**state, "lines": lines, "next_after": rows[-1].seq if rows else after}

    return await ctx.db.read(q)


def _store(conn: Connection, items: list[tuple[dict[str, Any], str]]) -> list[None]:
    """(Writer) requests and their audit entries: (row values, actor) each."""
    conn.execute(insert(process_requests), [values for values, _ in items])
    for values, actor in items:
        detail: dict[str, Any] = {"request_id": values["id"], "process": values["name"]}
        if values["text"] is not None:
            detail["bytes"] = len(values["text"].encode())
        record_audit(conn, actor, f"process.{values['action']}", values["server_id"], detail)
    return [None] * len(items)


def mark_lost(conn: Connection, rid: str) -> None:
    """A request that could not be sent (the channel closed): the agent never saw it."""
    conn.execute(
        update(process_requests)
        .where(process_requests.c.id == rid)
        .values(
            state="lost",
            done_at=time.time(),
            message="the control channel closed before it was sent",
        )
    )


async def enqueue(
    ctx: HubContext, actor: str, server_id: str, name: str, action: str, text: str | None = None
) -> str:
    """Queue a request (404 unknown server or process, 409 agent offline); its id. When this
    process holds the agent's channel the request goes out right after the commit (`sent`)."""
    from fleetwatch.hub.control import links_of
    from fleetwatch.hub.control.dispatch import request_message

    links = links_of(ctx)
    link = links.by_server.get(server_id)
    rid = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": rid,
        "server_id": server_id,
        "name": name,
        "action": action,
        "text": text,
        "requested_by": actor,
        "state": "sent" if link is not None else "queued",
        "message": "",
        "created_at": time.time(),
    }

    def job(conn: Connection) -> None:
        if link is None:
            _known(conn, server_id)
            if _link(conn, server_id, values["created_at"]) is None:
                raise ApiError(
                    409,
                    "agent_offline",
                    "the server's agent is not connected to the hub "
                    "(control channel down); try again when it is",
                )
        if name not in _states(conn, server_id):
            raise ApiError(
                404,
                "not_found",
                f"no managed process {name!r} on this server "
                "(the `processes` key of its agent config)",
            )
        _store(conn, [(values, actor)])

    if link is not None:
        links.waiters[rid] = asyncio.get_running_loop().create_future()
    try:
        # the channel is open here and its hello names the process: no reads, one batch
        if link is not None and any(p.get("name") == name for p in link.hello["processes"]):
            await ctx.db.write_batched(_store, (values, actor))
        else:
            await ctx.db.write(job)
    except BaseException:
        links.waiters.pop(rid, None)
        raise
    if link is None:
        links.kick()
    elif not await links.send(server_id, request_message(rid, name, action, text)):
        links.waiters.pop(rid, None)
        await ctx.db.write(lambda conn: mark_lost(conn, rid))
    return rid


async def request(
    ctx: HubContext, actor: str, server_id: str, name: str, action: str, text: str | None = None
) -> dict[str, Any]:
    """`enqueue`, then wait up to `WAIT_SECONDS` for the agent's answer."""
    from fleetwatch.hub.control import links_of

    rid = await enqueue(ctx, actor, server_id, name, action, text)
    waiter = links_of(ctx).waiters.get(rid)
    if waiter is not None:  # answered in this process: no polling
        try:
            ack = await asyncio.wait_for(waiter, WAIT_SECONDS)
        except TimeoutError:
            links_of(ctx).waiters.pop(rid, None)
        else:
            state = "done" if ack.get("ok") is True else "failed"
            return {
                "id": rid,
                "name": name,
                "action": action,
                "state": state,
                "message": str(ack.get("message") or "")[:2000],
            }
    deadline = time.monotonic() + WAIT_SECONDS
    r = process_requests.c
    while True:
        row = await ctx.db.read(
            lambda conn: conn.execute(select(r.state, r.message).where(r.id == rid)).first()
        )
        if row is not None and (
            row.state in ("done", "failed", "expired", "lost") or time.monotonic() >= deadline
        ):
            return {
                "id": rid,
                "name": name,
                "action": action,
                "state": row.state,
                "message": row.message,
            }
        await asyncio.sleep(0.01)


# --- what the agent reports ------------------------------------------------------------------


def save_state(conn: Connection, server_id: str, state: dict[str, Any]) -> None:
    name = str(state.get("name") or "")[:64]
    if not name:
        return
    view = {
        k: state.get(k)
        for k in ("name", "state", "pid", "started_at", "restarts", "exit_code", "restart")
    }
    m = managed_processes.c
    conn.execute(delete(managed_processes).where(m.server_id == server_id, m.name == name))
    conn.execute(
        insert(managed_processes).values(
            server_id=server_id,
            name=name,
            state=orjson.dumps(view).decode(),
            updated_at=time.time(),
        )
    )


def replace_states(conn: Connection, server_id: str, states: list[dict[str, Any]]) -> None:
    """A `hello`: its processes are the whole list (removed ones go)."""
    conn.execute(delete(managed_processes).where(managed_processes.c.server_id == server_id))
    for state in states[:256]:
        if isinstance(state, dict):
            save_state(conn, server_id, state)


def add_lines(conn: Connection, server_id: str, name: str, lines: list[str]) -> None:
    """Append output lines of one process (one read of the last number, one insert)."""
    p = process_lines.c
    where = (p.server_id == server_id, p.name == name)
    last = conn.execute(select(func.max(p.seq)).where(*where)).scalar() or 0
    now = time.time()
    conn.execute(
        insert(process_lines),
        [
            {"server_id": server_id, "name": name, "seq": last + n, "ts": now, "data": data}
            for n, data in enumerate(lines, 1)
        ],
    )
    top = last + len(lines)
    if top // 50 != last // 50:  # trim now and then, not on every line
        conn.execute(delete(process_lines).where(*where, p.seq <= top - LINES_KEPT))


def acknowledge(conn: Connection, server_id: str, messages: list[dict[str, Any]]) -> None:
    """The agent's acks: each open request ends `done` or `failed` with its reason."""
    r = process_requests.c
    now = time.time()
    conn.execute(
        update(process_requests)
        .where(
            r.id == bindparam("b_id"),
            r.server_id == server_id,
            r.state.in_(("queued", "sent")),
        )
        .values(state=bindparam("b_state"), message=bindparam("b_message"), done_at=now),
        [
            {
                "b_id": str(m.get("id")),
                "b_state": "done" if m.get("ok") is True else "failed",
                "b_message": str(m.get("message") or "")[:2000],
            }
            for m in messages
        ],
    )
