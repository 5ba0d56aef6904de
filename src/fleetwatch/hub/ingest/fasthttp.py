"""`AgentProtocol`: uvicorn's HTTP protocol, answering agents' writes without ASGI.

Every agent posts a snapshot each interval, thousands at once, and for one ~5 KB snapshot
uvicorn's ASGI machinery (a request-response cycle with its event, the receive and send
messages, Starlette's `Request` and `Response`) cost about as much CPU as validating and
compressing it (measured: ~41 us per request for uvicorn with an empty ASGI app against ~13 us
for the same parser answering directly). This subclass of uvicorn's httptools protocol answers
`POST /api/metrics` and `POST /api/metrics/live` itself: it collects the body as the parser
delivers it, calls the same handler as the routes (`ingest.answer_write`) and writes the
response with uvicorn's default headers. Every other request, and any agent write it is not
sure about, goes through uvicorn and the app exactly as before:

- a body without `Content-Length`, or one declaring more than 64 KiB (uvicorn's read buffer:
  the protocol reads a body whole before authenticating, so a client without a key can make
  it hold no more than uvicorn would; a snapshot is ~5 KB, larger batches go to uvicorn);
- `Expect: 100-continue`, an upgrade, `X-Forwarded-*`/`Forwarded` headers (uvicorn's proxy
  handling decides the client address), a root path, access logging, a concurrency limit;
- a request pipelined behind one not answered yet (uvicorn's pipeline keeps the order).

While a write is answered, a stand-in for uvicorn's cycle (`_Write`) sits in `self.cycle`, so
uvicorn's own bookkeeping (shutdown, lost connections, pipelined requests behind it, the
keep-alive timer) works unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httptools
from starlette.datastructures import Address
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from fleetwatch.hub.api.caller import RawCaller, header_map
from fleetwatch.hub.api.errors import error_body, internal_error
from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.ingest import routes as ingest

log = logging.getLogger("fleetwatch.hub.api")

#: path -> is it the live route
ROUTES = {b"/api/metrics": False, b"/api/metrics/live": True}
STOPPING = "the hub is stopping and did not store this write; send it again"
_SKIP_HEADERS = (b"x-forwarded-", b"forwarded", b"transfer-encoding")


class _NoEvent:
    """Stands in for the cycle's `asyncio.Event`: nothing waits on a write's."""

    @staticmethod
    def set() -> None:
        return None


class _Write:
    """An agent write being answered: the attributes uvicorn's protocol uses of a cycle."""

    __slots__ = (
        "body",
        "disconnected",
        "headers",
        "keep_alive",
        "live",
        "message_event",
        "more_body",
        "response_complete",
    )

    def __init__(self, headers: list[tuple[bytes, bytes]], keep_alive: bool, live: bool) -> None:
        self.body = bytearray()
        self.headers = headers
        self.keep_alive = keep_alive
        self.live = live
        self.more_body = True
        self.disconnected = False
        self.response_complete = False
        self.message_event = _NoEvent


def _hub_context(app: Any) -> HubContext | None:
    """The hub's context, from the app uvicorn serves (under its middlewares)."""
    for _ in range(8):
        ctx = getattr(getattr(app, "state", None), "ctx", None)
        if isinstance(ctx, HubContext):
            return ctx
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class AgentProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with agents' writes answered directly (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ctx = _hub_context(self.app)
        lean = ctx is not None and not self.config.access_log and not self.root_path
        self._ctx = ctx if lean and self.limit_concurrency is None else None
        self._max_body = min(HIGH_WATER_LIMIT, ctx.settings.max_body_bytes) if ctx else 0

    def on_headers_complete(self) -> None:
        live = self._lean_route()
        if live is None:
            super().on_headers_complete()
            return
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        self.cycle = _Write(self.headers, keep_alive, live)  # type: ignore[assignment]

    def _lean_route(self) -> bool | None:
        """Is this request a write answered here (and is it the live route)? None: uvicorn's."""
        ctx = self._ctx
        if ctx is None or self.expect_100_continue or self.parser.get_method() != b"POST":
            return None
        if self.cycle is not None and not self.cycle.response_complete:
            return None  # pipelined behind an unanswered request
        live = ROUTES.get(httptools.parse_url(self.url).path)
        if live is None or self.parser.should_upgrade():
            return None
        length = b""
        for name, value in self.headers:
            if name.startswith(_SKIP_HEADERS):
                return None
            if name == b"content-length":
                length = value
        if not length.isdigit() or len(length) > 9 or int(length) > self._max_body:
            return None
        return live

    def on_body(self, body: bytes) -> None:
        write = self.cycle
        if isinstance(write, _Write):
            write.body += body  # at most its Content-Length, <= 64 KiB (`_lean_route`)
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        write = self.cycle
        if not isinstance(write, _Write):
            super().on_message_complete()
            return
        write.more_body = False
        task = self.loop.create_task(self._answer(write))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _answer(self, write: _Write) -> None:
        assert self._ctx is not None
        client = Address(*self.client) if self.client else None
        caller = RawCaller(header_map(write.headers), client)
        try:
            response = await ingest.answer_write(self._ctx, caller, bytes(write.body), write.live)
        except asyncio.CancelledError:  # uvicorn's graceful shutdown timed out
            write.keep_alive = False
            self._respond(write, JSONResponse(error_body("unavailable", STOPPING), 503))
            raise
        except Exception:
            log.exception("unexpected error on an agent's write")
            response = internal_error()
        self._respond(write, response)

    def _respond(self, write: _Write, response: JSONResponse) -> None:
        write.response_complete = True
        if write.disconnected or self.transport.is_closing():
            return
        content = [STATUS_LINE[response.status_code]]
        for name, value in (*self.server_state.default_headers, *response.raw_headers):
            content += [name, b": ", value, b"\r\n"]
        if not write.keep_alive:
            content.append(b"connection: close\r\n")
        content += [b"\r\n", bytes(response.body)]
        self.transport.write(b"".join(content))
        if not write.keep_alive:
            self.transport.close()
        self.on_response_complete()
