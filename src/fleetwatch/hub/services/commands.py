"""Remote commands (A13, issue 21.2): ask, check, record, report.

`create` answers before anything runs: 404 for an unknown server; 409 `agent_offline` when the
server's agent holds no control channel (commands are not queued for later: a command meant
for now must not run hours later when a host comes back); 403 `not_opted_in` when the host's
agent config has no `commands`; 403 `not_allowed` / `shell_not_allowed` for what its
allow-list refuses (the agent checks again: its own config is the authority). The row starts
`queued`; the hub process holding the agent's channel sends it (`hub/control/dispatch.py`) and
marks it `running`; the agent's `exit` ends it. A queued command no process sent within
`QUEUE_SECONDS` (the agent left meanwhile) ends `expired`. Every command and its end are in
the audit log (caller, program, exit code, output size).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, update

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.errors import ApiError
from fleetwatch.hub.services.audit import record as record_audit
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_control import agent_links, command_output, commands
from fleetwatch.protocol.control import EXIT_STATES, command_allowed, encode

#: an agent link not refreshed for this long is gone (its hub process died)
LINK_FRESH_SECONDS = 90.0
QUEUE_SECONDS = 30.0
OPEN_STATES = ("queued", "running")
TERMINAL_STATES = frozenset(EXIT_STATES | {"lost", "expired"})


def _link(conn: Connection, server_id: str, now: float) -> dict[str, Any] | None:
    row = conn.execute(select(agent_links).where(agent_links.c.server_id == server_id)).first()
    if row is None or now - row.seen_at > LINK_FRESH_SECONDS:
        return None
    hello: dict[str, Any] = orjson.loads(row.hello)
    return hello


def check_request(hello: dict[str, Any] | None, argv: list[str] | None, shell: str | None) -> None:
    """403/409 for what the host's agent would refuse (`hello` is what it announced)."""
    if hello is None:
        raise ApiError(
            409,
            "agent_offline",
            "the server's agent is not connected to the hub "
            "(control channel down); commands are not queued: try again when it is",
        )
    policy = hello.get("commands") or {}
    if not policy.get("enabled"):
        raise ApiError(
            403,
            "not_opted_in",
            "this host has not opted in to remote commands (no `commands` key in its agent config)",
        )
    if shell is not None and not policy.get("shell"):
        raise ApiError(
            403,
            "shell_not_allowed",
            "this host does not allow shell commands "
            "(`commands.shell` is false in its agent config)",
            "shell",
        )
    if argv is not None and not command_allowed(argv[0], policy.get("allow") or []):
        raise ApiError(
            403,
            "not_allowed",
            f"{argv[0]!r} is not in this host's allow-list "
            f"({', '.join(policy.get('allow') or []) or 'empty'})",
            "argv",
        )


async def create(
    ctx: HubContext,
    actor: str,
    server_id: str,
    argv: list[str] | None,
    shell: str | None,
    timeout: float,
    env: dict[str, str],
) -> dict[str, Any]:
    from fleetwatch.hub.control import links_of
    from fleetwatch.hub.control.dispatch import MAX_OUTPUT_BYTES

    now = time.time()
    cid = str(uuid.uuid4())
    links = links_of(ctx)
    # the agent's channel is held by this process: the row is `running` at once and the
    # command goes out right after the commit (no dispatcher round); else it waits `queued`
    local = server_id in links.by_server
    state = "running" if local else "queued"

    def job(conn: Connection) -> dict[str, Any]:
        if conn.execute(select(servers.c.id).where(servers.c.id == server_id)).first() is None:
            raise ApiError(404, "not_found", f"no server with id {server_id!r}")
        check_request(_link(conn, server_id, now), argv, shell)
        conn.execute(
            insert(commands).values(
                id=cid,
                server_id=server_id,
                argv=None if argv is None else orjson.dumps(argv).decode(),
                shell=shell,
                env=orjson.dumps(env).decode(),
                timeout_seconds=timeout,
                requested_by=actor,
                state=state,
                output_bytes=0,
                truncated=False,
                message="",
                created_at=now,
                sent_at=now if local else None,
            )
        )
        what = (
            {"command_id": cid, "argv": argv}
            if argv is not None
            else {"command_id": cid, "shell": shell}
        )
        record_audit(conn, actor, "command.run", server_id, what)
        return {"id": cid, "server_id": server_id, "state": state, "created_at": now}

    created = await ctx.db.write(job)
    if not local:
        links.kick()
        return created
    fields: dict[str, Any] = {
        "id": cid,
        "timeout_seconds": timeout,
        "env": env,
        "max_output_bytes": MAX_OUTPUT_BYTES,
    }
    fields.update({"argv": argv} if argv is not None else {"shell": shell})
    if not await links.send(server_id, encode("command", **fields)):
        await ctx.db.write(lambda conn: mark_lost(conn, cid))
        created["state"] = "lost"
    return created


def mark_lost(conn: Connection, cid: str) -> None:
    """A command that could not be sent (the channel closed): it never runs."""
    c = commands.c
    conn.execute(
        update(commands)
        .where(c.id == cid, c.state == "running")
        .values(
            state="lost",
            finished_at=time.time(),
            message="the control channel closed before it was sent",
        )
    )


async def control_status(ctx: HubContext, server_id: str) -> dict[str, Any]:
    """`{"connected", "connected_at", "hello"}` of the server's control channel (404 unknown)."""

    def q(conn: Connection) -> dict[str, Any]:
        if conn.execute(select(servers.c.id).where(servers.c.id == server_id)).first() is None:
            raise ApiError(404, "not_found", f"no server with id {server_id!r}")
        row = conn.execute(select(agent_links).where(agent_links.c.server_id == server_id)).first()
        fresh = row is not None and time.time() - row.seen_at <= LINK_FRESH_SECONDS
        return {
            "server_id": server_id,
            "connected": fresh,
            "connected_at": row.connected_at if fresh and row else None,
            "hello": orjson.loads(row.hello) if fresh and row else None,
        }

    return await ctx.db.read(q)


def _row(conn: Connection, cid: str, after: int) -> dict[str, Any] | None:
    row = conn.execute(select(commands).where(commands.c.id == cid)).first()
    if row is None:
        return None
    o = command_output.c
    chunks = conn.execute(
        select(o.seq, o.stream, o.data).where(o.command_id == cid, o.seq > after).order_by(o.seq)
    ).all()
    item = dict(row._mapping)
    item["argv"] = orjson.loads(item["argv"]) if item["argv"] else None
    item["env"] = orjson.loads(item["env"])
    item["output"] = "".join(c.data for c in chunks)
    item["chunks"] = [{"seq": c.seq, "stream": c.stream, "data": c.data} for c in chunks]
    item["next_after"] = chunks[-1].seq if chunks else after
    item["done"] = item["state"] in TERMINAL_STATES
    return item


async def get(ctx: HubContext, cid: str, after: int = 0) -> dict[str, Any]:
    item = await ctx.db.read(lambda conn: _row(conn, cid, after))
    if item is None:
        raise ApiError(404, "not_found", f"no command with id {cid!r}")
    return item


async def for_server(ctx: HubContext, server_id: str, limit: int = 50) -> list[dict[str, Any]]:
    def q(conn: Connection) -> list[dict[str, Any]]:
        c = commands.c
        rows = conn.execute(
            select(commands)
            .where(c.server_id == server_id)
            .order_by(c.created_at.desc())
            .limit(limit)
        ).all()
        out = []
        for r in rows:
            item = dict(r._mapping)
            item["argv"] = orjson.loads(item["argv"]) if item["argv"] else None
            item.pop("env")
            out.append(item)
        return out

    return await ctx.db.read(q)


# --- what the agent reports (called by the channel's hub process) --------------------------


def add_output(conn: Connection, cid: str, stream: str, data: str) -> None:
    o = command_output.c
    last = conn.execute(select(func.max(o.seq)).where(o.command_id == cid)).scalar()
    exists = conn.execute(select(commands.c.id).where(commands.c.id == cid)).first()
    if exists is not None:
        conn.execute(
            insert(command_output).values(
                command_id=cid, seq=(last or 0) + 1, stream=stream, data=data
            )
        )


def finish(conn: Connection, server_id: str, message: dict[str, Any]) -> None:
    """Record a command's `exit` (only for this server's open commands: never twice)."""
    state = message.get("state")
    state = state if state in EXIT_STATES else "failed"
    code = message.get("exit_code")
    values = {
        "state": state,
        "exit_code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "output_bytes": int(message.get("output_bytes") or 0),
        "truncated": bool(message.get("truncated")),
        "message": str(message.get("message") or "")[:2000],
        "finished_at": time.time(),
    }
    c = commands.c
    cid = str(message.get("id"))
    done = conn.execute(
        update(commands)
        .where(c.id == cid, c.server_id == server_id, c.state.in_(OPEN_STATES))
        .values(**values)
    )
    if done.rowcount:
        row = conn.execute(select(c.requested_by).where(c.id == cid)).first()
        record_audit(
            conn,
            row.requested_by if row else "agent",
            "command.exit",
            server_id,
            {
                "command_id": cid,
                "state": state,
                "exit_code": values["exit_code"],
                "output_bytes": values["output_bytes"],
            },
            success=state == "exited",
        )


def reconcile(conn: Connection, server_id: str, hello: dict[str, Any]) -> None:
    """After an agent's `hello`: its `interrupted` commands end so; commands sent to it that it
    neither runs nor knows were lost on the way (never sent again)."""
    c = commands.c
    # `pending`: commands that ended while the channel was down; their `exit` follows
    running = {str(i) for i in [*(hello.get("running") or []), *(hello.get("pending") or [])]}
    interrupted = [str(i) for i in hello.get("interrupted") or []]
    now = time.time()
    if interrupted:
        conn.execute(
            update(commands)
            .where(c.server_id == server_id, c.id.in_(interrupted), c.state.in_(OPEN_STATES))
            .values(
                state="interrupted",
                finished_at=now,
                message="the agent restarted while the command ran",
            )
        )
    stale = conn.execute(select(c.id).where(c.server_id == server_id, c.state == "running")).all()
    lost = [r.id for r in stale if r.id not in running and r.id not in interrupted]
    if lost:
        conn.execute(
            update(commands)
            .where(c.id.in_(lost), c.state == "running")
            .values(
                state="lost",
                finished_at=now,
                message="the agent reconnected without it (never run twice)",
            )
        )
