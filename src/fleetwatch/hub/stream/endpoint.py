"""`GET /ws`: the WebSocket stream (seed 004's protocol; docs/api.md "WebSocket stream").

Credentials: `Authorization: Bearer fwu_...`, `?token=fwu_...`, or the dashboard's session
cookie (then the `Origin` must be the dashboard's own, so another site cannot open a stream
with a visitor's cookie). Without valid credentials the socket is accepted, told why in an
`error`, and closed with 4401 (4403 for a refused origin); beyond `stream_max_clients` it is
1013. The control loop answers every client frame; nothing a client sends raises out of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import logs, sessions, tokens
from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.stream import messages, watch
from fleetwatch.hub.stream.broker import StreamBroker, broker_of
from fleetwatch.hub.stream.clients import StreamClient
from fleetwatch.hub.stream.filters import SubscriptionError, parse_subscription
from fleetwatch.hub.stream.wire import WIRE_KEY, Wire

log = logging.getLogger("fleetwatch.hub.stream")
router = APIRouter()
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_LATER = 1013
CLOSE_POLICY = 1008
#: how long a dropped client's socket gets to take its last messages (the error, the close)
CLOSING_SECONDS = 10.0


class Refused(Exception):
    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code, self.code, self.message = close_code, code, message


def _same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if not origin:
        return True  # not a browser: browsers always send Origin on a WebSocket handshake
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


async def authenticate(ctx: HubContext, websocket: WebSocket) -> Principal:
    auth = websocket.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    token = token or websocket.query_params.get("token")
    if token:
        principal = await tokens.resolve_token(ctx, token)
        if principal is None:
            raise Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", "unknown or revoked token")
        return principal
    cookie = websocket.cookies.get(sessions.COOKIE_NAME)
    principal = await sessions.resolve_session(ctx, cookie) if cookie else None
    if principal is None:
        raise Refused(
            CLOSE_UNAUTHENTICATED,
            "unauthenticated",
            "send an API token (Authorization: Bearer fwu_... or ?token=) or log in",
        )
    if not _same_origin(websocket):
        raise Refused(CLOSE_FORBIDDEN, "forbidden", "cross-site stream refused (Origin)")
    return principal


async def _control(broker: StreamBroker, client: StreamClient, text: str) -> None:
    """Answer one client frame (already within the size limit)."""
    try:
        message: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        client.reply(messages.error("invalid_format", "frames are JSON objects with a type"))
        return
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        client.reply(messages.encode({"type": "pong", "timestamp": messages.iso()}))
    elif kind == "get_status":
        client.reply(messages.encode(await broker.status()))
    elif kind == "subscribe":
        try:
            client.filter = parse_subscription(message)
        except SubscriptionError as exc:
            client.reply(messages.error("invalid_subscription", str(exc)))
            return
        client.last_sent.clear()
        if messages.LOGS in client.filter.families:  # the tail starts at the newest line
            client.log_from = await broker.ctx.db.read(logs.latest_id)
        reply = {"type": "subscribed", "status": "subscribed", **client.filter.describe()}
        client.reply(messages.encode(reply))
    elif kind == "unsubscribe":
        client.filter = None
        client.reply(messages.encode({"type": "unsubscribed", "status": "unsubscribed"}))
    elif kind == "watch_command":
        await watch.start(broker.ctx, client, message)
    elif kind == "unwatch_command":
        await watch.stop(client, message)
    elif isinstance(kind, str):
        known = "ping, get_status, subscribe, unsubscribe, watch_command, unwatch_command"
        client.reply(messages.error("unknown_type", f"unknown type {kind[:64]!r} ({known})"))
    else:
        client.reply(messages.error("invalid_format", "frames are JSON objects with a type"))


async def _read(websocket: WebSocket, broker: StreamBroker, client: StreamClient) -> None:
    limit = client.limits.max_frame_bytes
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        raw = frame.get("text")
        size = len(raw.encode()) if raw is not None else len(frame.get("bytes") or b"")
        if size > limit:
            client.reply(messages.error("frame_too_large", f"frames are at most {limit} bytes"))
            continue
        if raw is None:
            raw = (frame.get("bytes") or b"").decode("utf-8", "replace")
        await _control(broker, client, raw)


async def _refuse(websocket: WebSocket, exc: Refused) -> None:
    await websocket.accept()
    with contextlib.suppress(Exception):
        await websocket.send_text(messages.error(exc.code, exc.message))
        await websocket.close(code=exc.close_code, reason=exc.code)


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    ctx: HubContext = websocket.app.state.ctx
    broker = broker_of(ctx)
    try:
        principal = await authenticate(ctx, websocket)
        if len(broker.clients) >= broker.limits.max_clients:
            raise Refused(CLOSE_TRY_LATER, "too_many_clients", "the stream is full; retry later")
    except Refused as exc:
        await _refuse(websocket, exc)
        return
    await websocket.accept()
    wire: Wire | None = websocket.scope.get("extensions", {}).get(WIRE_KEY)
    client = StreamClient(principal, broker.limits, wire)
    client.reply(messages.encode({"type": "connection", "status": "connected"}))
    broker.add(client)
    tasks: list[asyncio.Future[Any]] = [asyncio.create_task(_read(websocket, broker, client))]
    if wire is None:  # not the hub's own server: messages go out through ASGI
        tasks.append(asyncio.create_task(client.send_loop(websocket.send_text)))
    try:
        await asyncio.wait([*tasks, client.kicked], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task
        await watch.stop_all(client)
        await broker.remove(client)
    if client.kicked.done():
        log.info("stream: dropped slow client %s (%s)", client.id, principal.name)
        await _drop(websocket, client)
    client.close()


async def _drop(websocket: WebSocket, client: StreamClient) -> None:
    """A slow client gets only its error (once its socket takes it), then the close."""
    client.pending.clear()
    client.reply(messages.error("slow_consumer", client.kick_reason))
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSING_SECONDS):
            if client.wire is None:
                await client.flush_fallback(websocket.send_text)
            await websocket.close(code=CLOSE_POLICY, reason="slow_consumer")
