"""A6: the live sampler thread.

When `live_enabled`, it posts a live sample to `/api/metrics/live` every
`live_interval_seconds` with its own collector and its own hub connection, so it never delays
full snapshots (and they never delay it). Live on demand: while the hub says somebody watches
this host (the `"live"` key of its answers, `RuntimeState.set_live_demand`), it samples at the
hub's interval (1 s) even with live mode off, and stops when the watch ends. Live samples are
not buffered: a late "now" has no value, and the full snapshots carry the history. While the
hub fails, the sampler backs off (up to one minute between attempts) and logs the first failure
of a streak only. With live mode off and nobody watching, the thread sleeps on an event,
costing nothing until the configuration changes or the hub asks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from fleetwatch.agent.hub_client import HubClient
from fleetwatch.agent.state import RuntimeState
from fleetwatch.errors import TransportError

log = logging.getLogger("fleetwatch.agent.live")

MAX_LIVE_BACKOFF_SECONDS = 60.0


class LiveSource(Protocol):
    def collect_live(self) -> dict[str, Any]: ...

    def reconfigure(self, config: dict[str, Any]) -> None: ...


class LiveSampler:
    """`source_factory` builds the live collector on the first sample (none while live is off)."""

    def __init__(
        self, source_factory: Callable[[], LiveSource], client: HubClient, state: RuntimeState
    ) -> None:
        self.source_factory = source_factory
        self.source: LiveSource | None = None
        self.client = client
        self.state = state
        self.changed = threading.Event()
        self.sent_total = 0
        self.failed_total = 0
        self._failures = 0
        self._source_lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="fleetwatch-live", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def notify(self) -> None:
        """The configuration changed (or the agent stops): re-evaluate now."""
        self.changed.set()

    def source_reconfigure(self, config: dict[str, Any]) -> None:
        """Pass a new configuration to the live collector (called from the daemon thread)."""
        with self._source_lock:
            if self.source is not None:
                self.source.reconfigure(config)

    def join(self, timeout: float) -> None:
        self.changed.set()
        self.thread.join(timeout)

    def _wait(self, timeout: float | None) -> None:
        self.changed.wait(timeout)
        self.changed.clear()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self.state.stop.is_set():
            config = self.state.config
            demanded = self.state.live_demanded()
            wanted = config["live_enabled"] or demanded
            if not wanted or not self.client.enrolled:
                self._wait(None if not wanted else 1.0)
                next_at = time.monotonic()
                continue
            interval = float(config["live_interval_seconds"])
            if demanded:  # somebody watches this host on the hub (live on demand)
                interval = min(interval, self.state.live_demand_interval)
                next_at = min(next_at, time.monotonic() + interval)
            now = time.monotonic()
            if now < next_at:
                self._wait(next_at - now)
                continue
            try:
                self._tick()
            except Exception:  # top of a daemon loop
                log.exception("live sampler: unexpected error")
                self._failures += 1
            next_at += interval
            if self._failures:
                backoff = min(MAX_LIVE_BACKOFF_SECONDS, interval * 2 ** min(self._failures, 6))
                next_at = time.monotonic() + backoff
            elif next_at < time.monotonic():
                next_at = time.monotonic() + interval

    def _tick(self) -> None:
        with self._source_lock:
            if self.source is None:
                self.source = self.source_factory()
            sample = self.source.collect_live()
        try:
            self.client.send_live(sample)
        except TransportError as exc:
            self.failed_total += 1
            self._failures += 1
            if self._failures == 1:
                log.warning("live sample not delivered (live samples are not buffered): %s", exc)
            return
        self.sent_total += 1
        if self._failures:
            log.info("live samples are delivered again")
        self._failures = 0
