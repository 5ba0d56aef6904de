"""`GET /api/agent/ws`: the agent's control channel (issue 21.1).

The agent authenticates as on every agent request (`Authorization: Bearer <server id>:<key>`;
wrong or missing: the handshake is refused with 403). Its first frame is a `hello` within
`HELLO_SECONDS` (else close 1008). A second channel of the same server replaces the first.
`output` and `exit` messages become rows (`services/commands.py`); a frame this side cannot
use gets an `error` back and the channel stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from sqlalchemy import Connection, delete, insert
from starlette.websockets import WebSocketDisconnect

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.control import Link, links_of
from fleetwatch.hub.services import commands, keys, processes
from fleetwatch.hub.store.tables_control import agent_links
from fleetwatch.protocol.control import AGENT_TYPES, PATH, ControlError, decode, encode

log = logging.getLogger("fleetwatch.hub.control")
router = APIRouter()
HELLO_SECONDS = 10.0
CLOSE_POLICY = 1008


def _linked(conn: Connection, server_id: str, holder: str, hello: dict[str, Any]) -> None:
    now = time.time()
    conn.execute(delete(agent_links).where(agent_links.c.server_id == server_id))
    conn.execute(
        insert(agent_links).values(
            server_id=server_id,
            holder=holder,
            connected_at=now,
            seen_at=now,
            hello=orjson.dumps(hello).decode(),
        )
    )
    commands.reconcile(conn, server_id, hello)
    processes.replace_states(conn, server_id, hello.get("processes") or [])


def _unlinked(conn: Connection, server_id: str, holder: str) -> None:
    conn.execute(
        delete(agent_links).where(
            agent_links.c.server_id == server_id, agent_links.c.holder == holder
        )
    )


def _hello_view(message: dict[str, Any]) -> dict[str, Any]:
    given = message.get("commands")
    policy: dict[str, Any] = given if isinstance(given, dict) else {}
    allow = [a for a in policy.get("allow") or [] if isinstance(a, str)][:256]
    return {
        "agent_version": str(message.get("agent_version") or "")[:64],
        "commands": {
            "enabled": bool(policy.get("enabled")),
            "shell": bool(policy.get("shell")),
            "allow": allow,
        },
        "running": [str(i) for i in message.get("running") or []][:1000],
        "interrupted": [str(i) for i in message.get("interrupted") or []][:1000],
        "pending": [str(i) for i in message.get("pending") or []][:1000],
        "processes": [p for p in message.get("processes") or [] if isinstance(p, dict)][:256],
    }


def _record(conn: Connection, items: list[tuple[str, str, dict[str, Any]]]) -> list[None]:
    """(Writer) a batch of agents' frames in one transaction: command output, process output
    (one insert per process), process states, then exits and acks. An exit is committed
    with (or after) the output that came ahead of it, never before."""
    lines: dict[tuple[str, str], list[str]] = {}
    acks: dict[str, list[dict[str, Any]]] = {}
    exits: list[tuple[str, dict[str, Any]]] = []
    for kind, server_id, message in items:
        if kind == "output":
            stream = "stderr" if message.get("stream") == "stderr" else "stdout"
            data = str(message.get("data") or "").replace("\x00", "\ufffd")
            commands.add_output(conn, str(message.get("id") or "")[:64], stream, data)
        elif kind == "process_output":
            name = str(message.get("name") or "")[:64]
            data = str(message.get("data") or "").replace("\x00", "\ufffd")[:65536]
            lines.setdefault((server_id, name), []).append(data)
        elif kind == "exit":
            exits.append((server_id, message))
        elif kind == "ack":
            acks.setdefault(server_id, []).append(message)
        else:
            processes.save_state(conn, server_id, message)
    for (server_id, name), batch in lines.items():
        processes.add_lines(conn, server_id, name, batch)
    for server_id, message in exits:
        commands.finish(conn, server_id, message)
    for server_id, messages in acks.items():
        processes.acknowledge(conn, server_id, messages)
    return [None] * len(items)


RECORDED = ("output", "process_output", "process_state", "exit", "ack")


def _written(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("an agent frame could not be stored: %s", future.exception())


async def _handle(ctx: HubContext, link: Link, text: str) -> None:
    """One agent frame. Rows are queued to the writer without waiting, so the channel keeps
    reading while they commit; an ack answers its waiting API call once committed (the writer
    keeps queue order: the caller then reads the process states the agent sent before it)."""
    message = decode(text, AGENT_TYPES)
    kind = message["type"]
    if kind in RECORDED:
        future = ctx.db.enqueue(_record, (kind, link.server_id, message))
        future.add_done_callback(_written)
        if kind == "ack":  # answered once stored, with the states that came before it
            links = links_of(ctx)
            future.add_done_callback(lambda _f: links.answered(str(message.get("id")), message))
    elif kind == "error":
        log.warning(
            "agent %s could not use a control message: %s",
            link.server_id,
            str(message.get("message"))[:200],
        )
    # a second `hello` on one channel is ignored


@router.websocket(PATH)
async def agent_channel(websocket: WebSocket) -> None:
    ctx: HubContext = websocket.app.state.ctx
    server_id = await keys.verify(ctx, websocket.headers.get("authorization", ""))
    if server_id is None:
        await websocket.close(code=CLOSE_POLICY)  # before accept: the handshake gets 403
        return
    await websocket.accept()
    try:
        first = await asyncio.wait_for(websocket.receive_text(), HELLO_SECONDS)
        hello = decode(first, AGENT_TYPES)
        if hello["type"] != "hello":
            raise ControlError("the first message must be a hello")
    except (TimeoutError, ControlError, WebSocketDisconnect, KeyError, RuntimeError) as exc:
        with contextlib.suppress(Exception):
            await websocket.send_text(encode("error", message=f"no hello: {exc}"))
            await websocket.close(code=CLOSE_POLICY)
        return
    links = links_of(ctx)
    view = _hello_view(hello)
    link = Link(server_id, websocket, view, time.time())
    old = links.by_server.get(server_id)
    links.by_server[server_id] = link
    if old is not None:
        with contextlib.suppress(Exception):
            await old.socket.close(code=1000)  # type: ignore[attr-defined]
    await ctx.db.write(lambda conn: _linked(conn, server_id, links.holder, view))
    links.kick()
    log.info("agent %s opened its control channel (%s)", server_id, view["agent_version"])
    try:
        while True:
            text = await websocket.receive_text()
            link.received += 1
            try:
                await _handle(ctx, link, text)
            except ControlError as exc:
                await websocket.send_text(encode("error", message=str(exc)))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if links.by_server.get(server_id) is link:
            del links.by_server[server_id]
            with contextlib.suppress(Exception):
                await ctx.db.write(lambda conn: _unlinked(conn, server_id, links.holder))
