"""A minimal WebSocket client (RFC 6455) on a socket, for the agent's control channel.

Standard library only, like `http11.py` (no `websockets`: its asyncio stack would cost the
agent more memory than the whole channel). Text and binary messages (fragmented ones are
joined), ping answered with pong, close answered and reported as `ConnectionClosed`. No
extensions are offered, so frames are never compressed. Sends are thread-safe (commands'
output threads share the connection); receiving is for one thread.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from fleetwatch.agent.http11 import ConnectionClosed

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HANDSHAKE_BYTES = 16 * 1024


class HandshakeError(OSError):
    """The server did not switch protocols; `status` is its HTTP status (0: not HTTP)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class WebSocket:
    """One client connection: `connect`, then `send_text` / `recv` until `close`."""

    def __init__(self, sock: socket.socket, max_message_bytes: int) -> None:
        self.sock = sock
        self.max_message_bytes = max_message_bytes
        self._send_lock = threading.Lock()
        self._buffer = b""

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        path: str,
        headers: dict[str, str],
        *,
        timeout: float,
        tls: Callable[[], Any] | None = None,
        max_message_bytes: int = 1 << 20,
    ) -> WebSocket:
        sock = socket.create_connection((host, port), timeout)
        try:
            if tls is not None:
                sock = tls().wrap_socket(sock, server_hostname=host)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ws = cls(sock, max_message_bytes)
            ws._handshake(host, port, path, headers, tls is not None)
        except BaseException:
            sock.close()
            raise
        return ws

    def _handshake(
        self, host: str, port: int, path: str, headers: dict[str, str], tls: bool
    ) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == (443 if tls else 80) else f"{shown}:{port}"
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host_header}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > MAX_HANDSHAKE_BYTES:
                raise HandshakeError("handshake answer too long")
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HandshakeError(f"not an HTTP answer: {status_line[:80]!r}")
        status = int(parts[1])
        got = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            got[name.strip().lower()] = value.strip()
        if status != 101:
            raise HandshakeError(f"hub answered {status} instead of switching to WebSocket", status)
        if got.get("sec-websocket-accept") != accept_key(key):
            raise HandshakeError("wrong Sec-WebSocket-Accept in the hub's answer", status)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionClosed("the hub closed the connection")
        self._buffer += data

    def _take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def send(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        mask = os.urandom(4)
        body = _mask(payload, mask)
        with self._send_lock:
            self.sock.sendall(head + mask + body)

    def send_text(self, text: str) -> None:
        self.send(OP_TEXT, text.encode())

    def recv(self, timeout: float | None) -> str | bytes:
        """The next message (str for text); `TimeoutError` when none came in `timeout`."""
        self.sock.settimeout(timeout)
        parts: list[bytes] = []
        kind = OP_TEXT
        while True:
            b0, b1 = self._take(2)
            opcode, size = b0 & 0x0F, b1 & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._take(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._take(8))
            if size > self.max_message_bytes:
                raise ConnectionClosed(f"the hub sent a frame of {size} bytes")
            mask = self._take(4) if b1 & 0x80 else b""
            payload = self._take(size)
            if mask:
                payload = _mask(payload, mask)
            if opcode == OP_PING:
                self.send(OP_PONG, payload)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                self._close_reply(payload)
                raise ConnectionClosed("the hub closed the control channel")
            if opcode != OP_CONT:
                kind, parts = opcode, []
            parts.append(payload)
            if sum(map(len, parts)) > self.max_message_bytes:
                raise ConnectionClosed("the hub sent a message too large")
            if b0 & 0x80:
                data = b"".join(parts)
                return data.decode() if kind == OP_TEXT else data

    def _close_reply(self, payload: bytes) -> None:
        with contextlib.suppress(OSError):
            self.send(OP_CLOSE, payload[:2])

    def close(self, code: int = 1000) -> None:
        with contextlib.suppress(OSError):
            self.send(OP_CLOSE, struct.pack("!H", code))
        with contextlib.suppress(OSError):
            self.sock.close()


def _mask(payload: bytes, mask: bytes) -> bytes:
    """XOR `payload` with the 4-byte `mask` repeated (fast: one big-integer operation)."""
    n = len(payload)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
