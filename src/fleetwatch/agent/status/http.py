"""A minimal HTTP/1.1 server for the local status endpoint, on `socketserver` alone.

Why not `http.server`: importing it pulls in `http.client`, `email` and `ssl`, which cost the
agent about 6.7 MiB of resident memory (measured: +6.8 MiB RSS on CPython 3.11) — a quarter of
its 25 MiB budget — for features a loopback GET-only endpoint never uses. This module speaks
just enough HTTP/1.1: request line and headers (size-limited), GET and HEAD, keep-alive, fixed
`Content-Length` responses, and clear 400/405/431 answers to anything else.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("fleetwatch.agent.status")

MAX_LINE_BYTES = 8192
MAX_HEADERS = 100
IDLE_TIMEOUT_SECONDS = 30.0

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


class LineReader(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


@dataclass
class Request:
    method: str
    target: str  # path and query as sent
    version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str
    headers: list[tuple[str, str]] = field(default_factory=list)


class HttpError(Exception):
    """A request that cannot be served; answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def _line(rfile: LineReader) -> bytes:
    line = rfile.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        raise HttpError(431, "request line or header too long")
    return line


def read_request(rfile: LineReader) -> Request | None:
    """The next request on a connection; `None` at a clean end of stream."""
    line = _line(rfile)
    while line in (b"\r\n", b"\n"):  # tolerated before a request line (RFC 9112 2.2)
        line = _line(rfile)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(505, f"unsupported HTTP version {version!r}")
    request = Request(method, target, version)
    for _ in range(MAX_HEADERS + 1):
        header = _line(rfile)
        if header in (b"\r\n", b"\n", b""):
            return request
        name, sep, value = header.decode("latin-1").partition(":")
        if not sep or not name.strip():
            raise HttpError(400, "malformed header line")
        request.headers[name.strip().lower()] = value.strip()
    raise HttpError(431, f"more than {MAX_HEADERS} header lines")


def response_bytes(response: Response, *, head: bool, keep_alive: bool) -> bytes:
    reason = REASONS.get(response.status, "Unknown")
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}",
        "Server: fleetwatch-agent",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        "Cache-Control: no-store",
        *(f"{name}: {value}" for name, value in response.headers),
    ]
    if not keep_alive:
        lines.append("Connection: close")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head_bytes if head else head_bytes + response.body


Router = Callable[[Request], Response]
ErrorResponder = Callable[[int, str], Response]


class _Handler(socketserver.StreamRequestHandler):
    server: HttpServer
    timeout = IDLE_TIMEOUT_SECONDS

    def handle(self) -> None:
        while True:
            try:
                request = read_request(self.rfile)
            except HttpError as exc:
                self._write(self.server.error_response(exc.status, str(exc)), False, False)
                return
            except (TimeoutError, ConnectionError, UnicodeError):
                return
            if request is None:
                return
            try:
                response = self.server.router(request)
            except Exception:  # a bug must cost one answer, not the server thread
                log.exception("status endpoint failed on %s %s", request.method, request.target)
                response = self.server.error_response(500, "internal error; see the agent log")
            # A request body is never read: only body-less requests keep the connection.
            keep_alive = request.keep_alive and request.method in ("GET", "HEAD")
            if not self._write(response, request.method == "HEAD", keep_alive) or not keep_alive:
                return

    def _write(self, response: Response, head: bool, keep_alive: bool) -> bool:
        try:
            self.wfile.write(response_bytes(response, head=head, keep_alive=keep_alive))
            return True
        except (TimeoutError, ConnectionError):
            return False


class HttpServer(socketserver.ThreadingTCPServer):
    """Threaded server: one thread per connection; `router` answers every request."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], router: Router, error_response: ErrorResponder
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.router = router
        self.error_response = error_response
        super().__init__(address, _Handler)
