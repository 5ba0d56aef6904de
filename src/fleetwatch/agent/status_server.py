"""The local status endpoint (A11): the latest snapshot over loopback HTTP.

Standard library only (`http.server`, `json`, `threading`). One background thread collects
a snapshot every interval; request handlers only read the latest one, so a scrape never
triggers a collection and never waits for one. The tree and the Prometheus text of a snapshot
are built at most once, on first request. Routes:

- `GET /` a tiny HTML index;
- `GET /status` the whole tree as JSON, `GET /status/<path>` a subtree or a bare JSON scalar
  (segments are percent-decoded, so keys holding "/" or spaces can be addressed);
- `GET /metrics` Prometheus text format;
- anything else: a JSON error `{"error": {"code", "message", "field"}}` (404, 405, 503).
"""

from __future__ import annotations

import dataclasses
import html
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from fleetwatch import __version__
from fleetwatch.agent.exposition import CONTENT_TYPE as METRICS_CONTENT_TYPE
from fleetwatch.agent.status_metrics import render_metrics
from fleetwatch.agent.status_tree import Tree, build_tree, explain_missing, lookup, split_path
from fleetwatch.errors import ConfigError, FleetwatchError, StatusPathError

log = logging.getLogger("fleetwatch.agent.status")

#: Seconds between collections when neither `--interval` nor anything else says otherwise.
DEFAULT_INTERVAL_SECONDS = 5.0


class SnapshotSource(Protocol):
    """What the server needs from a collector (`fleetwatch.agent.snapshot.SnapshotCollector`)."""

    def collect(self) -> dict[str, Any]: ...


def stats_of(source: object) -> dict[str, Any] | None:
    """The collector's `stats` (a dataclass, a mapping or an object) as a plain dict, if any."""
    stats = getattr(source, "stats", None)
    if stats is None:
        return None
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return dataclasses.asdict(stats)
    if isinstance(stats, Mapping):
        return dict(stats)
    return {k: v for k, v in vars(stats).items() if not k.startswith("_")}


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


class StatusHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    latest: Latest


class StatusHTTPServer6(StatusHTTPServer):
    address_family = socket.AF_INET6


class StatusHandler(BaseHTTPRequestHandler):
    server: StatusHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive for scrapers
    server_version = f"fleetwatch-agent/{__version__}"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str, head: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if status == 405:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, value: Any, head: bool = False) -> None:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        self._send(status, body, "application/json", head)

    def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
        self._json(status, {"error": {"code": code, "message": message, "field": None}}, head)

    def _get(self, head: bool) -> None:
        path = urlsplit(self.path).path
        segments = [unquote(s) for s in split_path(path)]
        latest = self.server.latest
        if segments == []:
            return self._send(200, _index_html(latest), "text/html; charset=utf-8", head)
        if segments[0] not in ("status", "metrics") or (segments[0] == "metrics" and segments[1:]):
            shown = path if len(path) <= 200 else path[:200] + "..."
            message = f"no such endpoint: {shown!r}; try /status, /status/<path> or /metrics"
            return self._error(404, "not_found", message, head)
        if not latest.ready:
            return self._error(503, "not_ready", "the first snapshot is being collected", head)
        if segments[0] == "metrics":
            return self._send(200, latest.metrics() or b"", METRICS_CONTENT_TYPE, head)
        tree = latest.tree() or {}
        try:
            value = lookup(tree, segments[1:])
        except StatusPathError:
            return self._error(404, "not_found", explain_missing(tree, segments[1:]), head)
        return self._json(200, value, head)

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _not_allowed(self) -> None:
        self.close_connection = True  # the request body, if any, is not read
        self._error(405, "method_not_allowed", f"{self.command} is not allowed; use GET")

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed


def _index_html(latest: Latest) -> bytes:
    tree = latest.tree() or {}
    host = html.escape(str(tree.get("host", {}).get("hostname", "")))
    return (
        "<!doctype html><html><head><title>fleetwatch agent</title></head><body>"
        f"<h1>fleetwatch agent {html.escape(__version__)} {host}</h1><ul>"
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
            server_class = StatusHTTPServer6 if ":" in host else StatusHTTPServer
            self.httpd = server_class((host, port), StatusHandler)
        except OSError as exc:
            raise FleetwatchError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self.httpd.latest = self.latest
        self._http_thread = threading.Thread(
            target=self.httpd.serve_forever, name="fleetwatch-status-http", daemon=True
        )

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.httpd.server_port}"

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
