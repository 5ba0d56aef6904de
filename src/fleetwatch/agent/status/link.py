"""Serving the daemon's own snapshots on the local status endpoint (A11) when `status_listen`
is set. The status server (`status.server.StatusServer`) gets a source that returns the
daemon's latest snapshot, so the endpoint never triggers a second collection. A change of
`status_listen` (hot reload) restarts the server on the new address.
"""

from __future__ import annotations

import logging
from typing import Any

from fleetwatch.errors import FleetwatchError

log = logging.getLogger("fleetwatch.agent.status")

#: How often the status server re-reads the daemon's latest snapshot.
REPUBLISH_SECONDS = 5.0


class _Latest:
    def __init__(self, snapshot: dict[str, Any], collector: object) -> None:
        self.snapshot = snapshot
        self.collector = collector

    def collect(self) -> dict[str, Any]:
        return self.snapshot

    @property
    def stats(self) -> object:
        return getattr(self.collector, "stats", None)


class StatusLink:
    def __init__(self) -> None:
        self._source: _Latest | None = None
        self._server: Any = None
        self._listen = ""

    def publish(self, snapshot: dict[str, Any], listen: str, collector: object) -> None:
        """Hand the latest snapshot over; start, move or stop the server per `listen`."""
        if self._source is None:
            self._source = _Latest(snapshot, collector)
        self._source.snapshot = snapshot
        if listen != self._listen:
            self.stop()
            self._listen = listen
            if listen:
                self._start(listen)

    def _start(self, listen: str) -> None:
        from fleetwatch.agent.status.server import StatusServer, is_loopback, parse_listen

        assert self._source is not None
        try:
            host, port = parse_listen(listen)
            if not is_loopback(host):
                log.error(
                    "status_listen %r is not a loopback address; the local status endpoint "
                    "is off (use `fleetwatch agent serve --listen` to expose it on purpose)",
                    listen,
                )
                return
            self._server = StatusServer(self._source, host, port, REPUBLISH_SECONDS)
            self._server.start()
        except FleetwatchError as exc:
            log.error("status_listen %r: %s; the local status endpoint is off", listen, exc)
            self._server = None
            return
        log.info("local status endpoint on %s", self._server.url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
