"""What a hub process sends on the control channels it holds (issue 21): queued commands (each
claimed by one `UPDATE ... WHERE state = 'queued'`, so one process sends it, once), and the
upkeep of its `agent_links` rows; queued commands nobody sent in time end `expired`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

import orjson
from sqlalchemy import Connection, Table, select, update

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.control import LINK_REFRESH_SECONDS, POLL_SECONDS, Links, links_of
from fleetwatch.hub.services import processes
from fleetwatch.hub.services.commands import QUEUE_SECONDS, mark_lost
from fleetwatch.hub.store.tables_control import agent_links, commands, process_requests
from fleetwatch.protocol.control import encode

log = logging.getLogger("fleetwatch.hub.control")
#: the output an agent sends back for one command, at most (the agent's own cap may be lower)
MAX_OUTPUT_BYTES = 1 << 20


def _claim(
    conn: Connection, table: Table, sent: dict[str, Any], server_ids: list[str]
) -> list[Any]:
    """Take the `queued` rows of `table` for these channels, oldest first (a row another
    process took meanwhile is left to it): each becomes `sent` (the values to set)."""
    t = table.c
    rows = conn.execute(
        select(table).where(t.state == "queued", t.server_id.in_(server_ids)).order_by(t.created_at)
    ).all()
    claimed = []
    for row in rows:
        done = conn.execute(update(table).where(t.id == row.id, t.state == "queued").values(sent))
        if done.rowcount:
            claimed.append(row)
    return claimed


def _claim_commands(conn: Connection, server_ids: list[str], now: float) -> list[Any]:
    return _claim(conn, commands, {"state": "running", "sent_at": now}, server_ids)


def _claim_requests(conn: Connection, server_ids: list[str], now: float) -> list[Any]:
    return _claim(conn, process_requests, {"state": "sent"}, server_ids)


def request_message(rid: str, name: str, action: str, text: str | None) -> str:
    if action == "input":
        return encode("input", id=rid, name=name, text=text or "")
    return encode("process", id=rid, name=name, action=action)


def _expire(conn: Connection, now: float) -> int:
    r = process_requests.c
    conn.execute(
        update(process_requests)
        .where(r.state == "queued", r.created_at < now - QUEUE_SECONDS)
        .values(
            state="expired", done_at=now, message="no hub process held the agent's channel in time"
        )
    )
    c = commands.c
    result = conn.execute(
        update(commands)
        .where(c.state == "queued", c.created_at < now - QUEUE_SECONDS)
        .values(
            state="expired",
            finished_at=now,
            message="no hub process held the agent's channel in time",
        )
    )
    return int(result.rowcount or 0)


def _refresh(conn: Connection, ids: list[str], holder: str, now: float) -> None:
    links = agent_links.c
    conn.execute(
        update(agent_links)
        .where(links.server_id.in_(ids), links.holder == holder)
        .values(seen_at=now)
    )


def message_of(row: Any) -> str:
    fields: dict[str, Any] = {
        "id": row.id,
        "timeout_seconds": row.timeout_seconds,
        "env": orjson.loads(row.env),
        "max_output_bytes": MAX_OUTPUT_BYTES,
    }
    if row.argv is not None:
        fields["argv"] = orjson.loads(row.argv)
    else:
        fields["shell"] = row.shell
    return encode("command", **fields)


async def _send_claimed(ctx: HubContext, links: Links, rows: list[Any]) -> None:
    for row in rows:
        if not await links.send(row.server_id, message_of(row)):
            await ctx.db.write(functools.partial(mark_lost, cid=row.id))


async def run(ctx: HubContext) -> None:
    """The dispatcher of this process (every hub process; cancel the task to stop it)."""
    links = links_of(ctx)
    refreshed = expired = time.monotonic()
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(links.wake.wait(), POLL_SECONDS)
        links.wake.clear()
        try:
            now = time.time()
            ids = list(links.by_server)
            if time.monotonic() - expired >= 1.0:
                expired = time.monotonic()
                await ctx.db.write(functools.partial(_expire, now=now))
            if ids:
                rows = await ctx.db.write(
                    functools.partial(_claim_commands, server_ids=ids, now=now)
                )
                await _send_claimed(ctx, links, rows)
                asks = await ctx.db.write(
                    functools.partial(_claim_requests, server_ids=ids, now=now)
                )
                for row in asks:
                    message = request_message(row.id, row.name, row.action, row.text)
                    if not await links.send(row.server_id, message):
                        await ctx.db.write(functools.partial(processes.mark_lost, rid=row.id))
            if time.monotonic() - refreshed >= LINK_REFRESH_SECONDS and ids:
                refreshed = time.monotonic()
                await ctx.db.write(
                    functools.partial(_refresh, ids=ids, holder=links.holder, now=now)
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # a locked database for a moment must not end dispatching
            log.exception("control: dispatching commands failed")
            await asyncio.sleep(POLL_SECONDS)
