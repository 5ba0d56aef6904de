"""The hub process's connection protocol: the first bytes decide who serves the connection.

uvicorn creates one protocol object per accepted connection (`Config(http=...)`). `Sniffer`
stands in for uvicorn's own HTTP protocol until the request line has arrived; then it either
hands the connection to an ingest worker (`pool.IngestPool.hand_off`) or installs uvicorn's
protocol on the transport and replays the bytes to it, after which nothing of the sniffer
remains on that connection.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from fleetwatch.hub.dispatch.pool import IngestPool

#: Request lines of agents' traffic: the snapshots, live samples and heartbeats.
AGENT_REQUESTS = (
    b"POST /api/metrics ",
    b"POST /api/metrics?",
    b"POST /api/metrics/live",
    b"POST /api/ping",
)
#: Longest wait for a request line before the connection is served here anyway.
SNIFF_BYTES = 64
#: While no worker can take it (they are starting, or their queues are full), an agent's
#: connection waits for one this long (asked again every `RETRY_SECONDS`), then is served here.
STARTING_WAIT_SECONDS = 5.0
RETRY_SECONDS = 0.05
#: A connection that sends nothing for this long is closed (browsers open spare connections
#: they may never use; uvicorn closes idle keep-alive connections after a few seconds too).
IDLE_SECONDS = 60.0


def sniffer_class(pool: IngestPool, inner: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """A protocol class for `uvicorn.Config(http=...)` that hands agents' connections to
    `pool` and serves every other one with `inner` (uvicorn's HTTP protocol)."""

    class BoundSniffer(Sniffer):
        _pool = pool
        _inner = inner

    return BoundSniffer


class Sniffer(asyncio.Protocol):
    _pool: IngestPool
    _inner: type[asyncio.Protocol]

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs  # uvicorn's: config, server_state, app_state, _loop
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._idle: asyncio.TimerHandle | None = None
        self._since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(IDLE_SECONDS, transport.close)
        self._since = loop.time()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if b"\n" not in self._buffer and len(self._buffer) < SNIFF_BYTES:
            return  # the request line is not complete yet
        self._decide()

    def eof_received(self) -> bool | None:
        if self._buffer:  # a request line that ends the connection: let uvicorn answer it
            inner = self._serve_here()
            return inner.eof_received()
        return None  # nothing was asked: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()

    def _decide(self) -> None:
        transport = self._transport
        assert transport is not None
        if transport.is_closing():
            return
        if self._buffer.startswith(AGENT_REQUESTS):
            handed = self._pool.hand_off(transport, self._buffer)
            if handed:
                if self._idle is not None:
                    self._idle.cancel()
                transport.close()  # this process's copy only: the worker holds the connection
                return
            loop = asyncio.get_running_loop()
            if handed is None and loop.time() - self._since < STARTING_WAIT_SECONDS:
                transport.pause_reading()  # the bytes stay in the socket for whoever serves
                loop.call_later(RETRY_SECONDS, self._decide)
                return
        self._serve_here()

    def _serve_here(self) -> asyncio.Protocol:
        transport = self._transport
        assert transport is not None
        if self._idle is not None:
            self._idle.cancel()
        inner = self._inner(**self._kwargs)
        transport.set_protocol(inner)
        inner.connection_made(transport)
        if not transport.is_reading():
            transport.resume_reading()
        data, self._buffer = self._buffer, b""
        inner.data_received(data)
        return inner
