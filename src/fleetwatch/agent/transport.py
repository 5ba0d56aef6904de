"""HTTP(S) to the hub with the standard library only (A8).

One keep-alive connection per `HubConnection` (`http11.Http11Connection`, a small client that
keeps `ssl` out of memory for http hubs), reused across requests and re-opened when the hub
closed it; JSON bodies above a small size are gzip-compressed; every request has a
timeout; TLS certificates are verified unless `verify_ssl` is false (`SSL_CERT_FILE` /
`SSL_CERT_DIR` add a private CA). Failures become `TransportError`: `status` is None when no
answer came (refused, timeout, TLS failure), else the HTTP status of a non-2xx answer.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fleetwatch import __version__
from fleetwatch.agent.http11 import ConnectionClosed, Http11Connection, HttpProtocolError
from fleetwatch.errors import ConfigError, TransportError

#: Bodies at least this long are sent gzip-compressed.
GZIP_MIN_BYTES = 512


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        """The body as JSON; an unusable body is a `TransportError`."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            raise TransportError(
                f"hub answered {self.status} with a body that is not JSON", self.status
            ) from None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime  # rare: only for an HTTP-date Retry-After

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_message(resp: Response) -> str:
    """The hub's `{"error": {"message"}}`, else the start of the body."""
    try:
        data = json.loads(resp.body)
        message = data["error"]["message"]
        if isinstance(message, str):
            return message
    except (ValueError, KeyError, TypeError):
        pass
    return resp.body[:200].decode("utf-8", "replace").strip() or "(empty body)"


def check(resp: Response, what: str) -> Response:
    """Raise `TransportError` for a non-2xx answer, with Retry-After when given."""
    if 200 <= resp.status < 300:
        return resp
    raise TransportError(
        f"{what}: hub answered {resp.status}: {error_message(resp)}",
        resp.status,
        _retry_after(resp.headers.get("retry-after")),
    )


class HubConnection:
    """A thread-safe keep-alive connection to the hub at `base_url`."""

    def __init__(
        self, base_url: str, *, verify_ssl: bool = True, timeout_seconds: float = 15.0
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("dashboard_url", f"must be an http:// or https:// URL: {base_url!r}")
        self.base_url = base_url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.verify_ssl = verify_ssl
        self.timeout_seconds = timeout_seconds
        self.bytes_sent_total = 0
        self.requests_total = 0
        default_port = 443 if self.scheme == "https" else 80
        tls = self._tls_context if self.scheme == "https" else None
        self._conn = Http11Connection(
            self.host, self.port or default_port, timeout_seconds=timeout_seconds, tls=tls
        )
        self._lock = threading.Lock()

    def _tls_context(self) -> Any:
        import ssl  # only for an https hub: ssl costs ~4 MiB of resident memory

        context = ssl.create_default_context()
        if not self.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def request(
        self,
        method: str,
        path: str,
        payload: bytes | None = None,
        *,
        authorization: str | None = None,
        timeout_seconds: float | None = None,
    ) -> Response:
        """Send one request (`payload` is JSON bytes); any answer is returned, even 4xx/5xx.

        `timeout_seconds` shortens the connection's timeout for this request (a probe, the
        last attempt of a stopping agent)."""
        headers = {"User-Agent": f"fleetwatch-agent/{__version__}", "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        body = payload
        if payload is not None:
            headers["Content-Type"] = "application/json"
            if len(payload) >= GZIP_MIN_BYTES:
                body = gzip.compress(payload, 6)
                headers["Content-Encoding"] = "gzip"
        with self._lock:
            return self._send_locked(method, self.prefix + path, body, headers, timeout_seconds)

    def _send_locked(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float | None,
    ) -> Response:
        for attempt in (1, 2):
            reused = self._conn.connected
            try:
                status, headers_out, data = self._conn.request(method, path, body, headers, timeout)
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError) as exc:
                self._conn.close()
                if reused and attempt == 1:
                    continue  # the hub closed an idle keep-alive connection: retry once, fresh
                raise TransportError(f"{method} {path}: connection lost: {exc}") from None
            except (OSError, HttpProtocolError) as exc:
                self._conn.close()
                raise TransportError(f"{method} {path}: {_describe(exc)}") from None
            self.requests_total += 1
            self.bytes_sent_total += len(body or b"")
            return Response(status, headers_out, data)
        raise AssertionError("unreachable")


def _describe(exc: BaseException) -> str:
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(exc, ssl.SSLError):
        return f"TLS failure: {exc}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
