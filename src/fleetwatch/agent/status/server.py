"""The local status endpoint (A11): the latest snapshot over loopback HTTP.

Standard library only (`socketserver` via `status.http`, `json`, `threading`). One background
thread collects a snapshot every interval; request handlers only read the latest one, so a
scrape never triggers a collection and never waits for one. The tree and the Prometheus text
of a snapshot are built at most once, on first request. Routes:

- `GET /` a tiny HTML index;
- `GET /status` the whole tree as JSON, `GET /status/<path>` a subtree or a bare JSON scalar
  (segments are percent-decoded, so keys holding "/" or spaces can be addressed);
- `GET /metrics` Prometheus text format;
- anything else: a JSON error `{"error": {"code", "message", "field"}}` (404, 405, 503).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from fleetwatch import __version__
from fleetwatch.agent.exposition import CONTENT_TYPE as METRICS_CONTENT_TYPE
from fleetwatch.agent.status.http import HttpServer, Request, Response
from fleetwatch.agent.status.metrics import render_metrics
from fleetwatch.agent.status.tree import (
    Tree,
    build_tree,
    explain_missing,
    lookup,
    split_path,
    stats_of,
)
from fleetwatch.errors import ConfigError, FleetwatchError, StatusPathError

log = logging.getLogger("fleetwatch.agent.status")

#: Seconds between collections when neither `--interval` nor anything else says otherwise.
DEFAULT_INTERVAL_SECONDS = 5.0


class SnapshotSource(Protocol):
    """What the server needs from a collector (`fleetwatch.agent.snapshot.SnapshotCollector`)."""

    def collect(self) -> dict[str, Any]: ...


class Latest:
    """The latest snapshot and, built lazily once each, its tree and Prometheus text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: dict[str, Any] | None = None
        self._stats: dict[str, Any] | None = None
        self._tree: Tree | None = None
        self._metrics: bytes | None = None

    def publish(self, snapshot: dict[str, Any], stats: dict[str, Any] | None) -> None:
        with self._lock:
            self._snapshot, self._stats = snapshot, stats
            self._tree = self._metrics = None

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def tree(self) -> Tree | None:
        with self._lock:
            if self._tree is None and self._snapshot is not None:
                self._tree = build_tree(self._snapshot, self._stats)
            return self._tree

    def metrics(self) -> bytes | None:
        with self._lock:
            if self._metrics is None and self._snapshot is not None:
                self._metrics = render_metrics(self._snapshot, self._stats).encode()
            return self._metrics


class CollectLoop(threading.Thread):
    """Collects every `interval_seconds` on a fixed schedule (no drift, no catch-up bursts)."""

    def __init__(
        self,
        source: SnapshotSource,
        latest: Latest,
        interval_seconds: float,
        before_cycle: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="fleetwatch-status-collect", daemon=True)
        self.source, self.latest = source, latest
        self.interval_seconds = interval_seconds
        self.before_cycle = before_cycle
        self.stopping = threading.Event()

    def collect_once(self) -> None:
        """One cycle; any failure is logged and the previous snapshot stays published."""
        try:
            if self.before_cycle is not None:
                self.before_cycle()
            snapshot = self.source.collect()
            self.latest.publish(snapshot, stats_of(self.source))
        except Exception:  # top of a daemon loop: log and keep serving the last snapshot
            log.exception("status collection failed; serving the previous snapshot")

    def run(self) -> None:
        deadline = time.monotonic()
        while not self.stopping.is_set():
            deadline += self.interval_seconds
            now = time.monotonic()
            if deadline < now:  # a slow cycle: skip missed ticks instead of bursting
                deadline = now + self.interval_seconds
            if self.stopping.wait(deadline - now):
                return
            self.collect_once()


def _json(status: int, value: Any) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, "application/json")


def error_response(status: int, message: str) -> Response:
    """The error shape the hub uses too: `{"error": {"code", "message", "field"}}`."""
    code = _ERROR_CODES.get(status, "error")
    response = _json(status, {"error": {"code": code, "message": message, "field": None}})
    if status == 405:
        response.headers.append(("Allow", "GET, HEAD"))
    return response


_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    431: "headers_too_large",
    500: "internal_error",
    503: "not_ready",
    505: "http_version_not_supported",
}


def route(latest: Latest, request: Request) -> Response:
    """Answer one request from the latest snapshot (see the module docstring for the routes)."""
    if request.method not in ("GET", "HEAD"):
        return error_response(405, f"{request.method} is not allowed; use GET")
    path = urlsplit(request.target).path
    segments = [unquote(s) for s in split_path(path)]
    if not segments:
        return Response(200, _index_html(latest), "text/html; charset=utf-8")
    if segments[0] not in ("status", "metrics") or (segments[0] == "metrics" and segments[1:]):
        shown = path if len(path) <= 200 else path[:200] + "..."
        return error_response(
            404, f"no such endpoint: {shown!r}; try /status, /status/<path> or /metrics"
        )
    if not latest.ready:
        return error_response(503, "the first snapshot is being collected; retry in a moment")
    if segments[0] == "metrics":
        return Response(200, latest.metrics() or b"", METRICS_CONTENT_TYPE)
    tree = latest.tree() or {}
    try:
        return _json(200, lookup(tree, segments[1:]))
    except StatusPathError:
        return error_response(404, explain_missing(tree, segments[1:]))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _index_html(latest: Latest) -> bytes:
    tree = latest.tree() or {}
    host = _escape(str(tree.get("host", {}).get("hostname", "")))
    return (
        "<!doctype html><html><head><title>fleetwatch agent</title></head><body>"
        f"<h1>fleetwatch agent {_escape(__version__)} {host}</h1><ul>"
        '<li><a href="/status">/status</a> latest snapshot as a JSON tree'
        " (<code>/status/cpu/percent</code>, <code>/status/network/&lt;nic&gt;/errin</code>)</li>"
        '<li><a href="/metrics">/metrics</a> Prometheus text format</li>'
        "</ul></body></html>"
    ).encode()


def parse_listen(text: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:9101`) -> (host, port); `ConfigError` when malformed."""
    host, sep, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError("listen", f"expected HOST:PORT such as 127.0.0.1:9101, got {text!r}")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    import ipaddress  # here, not at import time: only the command line needs it

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class StatusServer:
    """Collector thread + HTTP server. `start()` collects once, then serves in the background."""

    def __init__(
        self,
        source: SnapshotSource,
        host: str,
        port: int,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        before_cycle: Callable[[], None] | None = None,
    ) -> None:
        self.host = host
        self.latest = Latest()
        self.loop = CollectLoop(source, self.latest, interval_seconds, before_cycle)
        try:
            self.httpd = HttpServer(
                (host, port), lambda request: route(self.latest, request), error_response
            )
        except OSError as exc:
            raise FleetwatchError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self._http_thread = threading.Thread(
            target=self.httpd.serve_forever, name="fleetwatch-status-http", daemon=True
        )

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    @property
    def port(self) -> int:
        """The bound port (useful after binding port 0)."""
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self.loop.collect_once()  # the first snapshot is ready before the first request
        self.loop.start()
        self._http_thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until `stop()` (True) or the timeout (False)."""
        return self.loop.stopping.wait(timeout)

    def stop(self) -> None:
        self.loop.stopping.set()
        if self._http_thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()
        if self.loop.is_alive():
            self.loop.join(timeout=30)
