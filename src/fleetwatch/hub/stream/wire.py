"""The stream's socket without ASGI: whole WebSocket frames written straight to the transport.

Fanning one snapshot out to a thousand clients through ASGI costs, per client and message, an
`await send(...)` through Starlette and uvicorn, a frame built by the websockets library and
(when negotiated) a permessage-deflate pass. `StreamProtocol` is uvicorn's sans-I/O WebSocket
protocol with three changes for `GET /ws` only (the dashboard's own WebSockets are untouched):

- it offers no permessage-deflate (the stream's frames are written uncompressed, which RFC 7692
  allows either way; it also saves the two zlib contexts, ~40 KiB, per client);
- it puts itself in the ASGI scope under `WIRE_KEY`, so the endpoint writes frames that the
  broker encoded once for every client (`Message.frame`) with one `transport.write` for many;
- small socket and transport buffers (`SEND_BUFFER`, `HIGH_WATER`), so a client that reads
  slowly is seen as one at once (and gets the newest data) instead of megabytes late.

Everything else (handshake, reads, ping/pong, close) stays uvicorn's. The endpoint falls back to
the ASGI `send` when the scope has no wire (another server runs the app).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any, Protocol, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

#: ASGI scope["extensions"] key under which `/ws` connections find their `Wire`
WIRE_KEY = "fleetwatch.wire"
STREAM_PATH = "/ws"
SEND_BUFFER = 16 * 1024  # SO_SNDBUF (the kernel doubles it)
HIGH_WATER = 16 * 1024  # transport buffer: above it the client is behind until LOW_WATER
LOW_WATER = 4 * 1024


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final, text frame (RFC 6455 5.2) carrying `payload`."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x81, size)
    elif size < 65_536:
        head = struct.pack("!BBH", 0x81, 126, size)
    else:
        head = struct.pack("!BBQ", 0x81, 127, size)
    return head + payload


class Wire(Protocol):
    """What a stream client writes to."""

    @property
    def paused(self) -> bool: ...

    def write(self, data: bytes) -> bool: ...

    def on_writable(self, callback: Callable[[], None] | None) -> None: ...


class StreamProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, plus a `Wire` for `GET /ws` connections."""

    _writable_callback: Callable[[], None] | None = None

    def handle_connect(self, event: Any) -> None:
        stream = event.path.partition("?")[0] == STREAM_PATH
        if stream:
            self.conn.available_extensions = []
        super().handle_connect(event)
        if not stream or self.close_sent:  # refused handshake: already answered
            return
        extensions = cast(dict[str, Any], self.scope["extensions"])
        extensions[WIRE_KEY] = self
        with contextlib.suppress(OSError, AttributeError, TypeError):
            sock = self.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self.transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)

    # --- Wire -----------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return not self.writable.is_set()

    def write(self, data: bytes) -> bool:
        """Write whole frames; False once the socket is closing (nothing is written)."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    def on_writable(self, callback: Callable[[], None] | None) -> None:
        self._writable_callback = callback

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._writable_callback is not None:
            self._writable_callback()

    def connection_lost(self, exc: Exception | None) -> None:
        self._writable_callback = None
        super().connection_lost(exc)
