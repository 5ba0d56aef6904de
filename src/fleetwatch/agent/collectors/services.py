"""A3: system services, cached, so a snapshot every second stays cheap.

Source choice: Windows → psutil; `/run/systemd/system` exists → systemd; otherwise SysV
`service --status-all`. Querying is slow (on this kind of host `service --status-all` runs
every init script: ~0.9 s of CPU), so results are cached and refreshed at most every
`SERVICES_REFRESH_SECONDS`, and a costly source is refreshed less often still, keeping its
share of one core under `SERVICES_MAX_CPU_SHARE`. After the first (synchronous) query, a
refresh runs on a background thread and snapshots keep serving the previous result.

Nothing raises: a missing tool gives an empty list and `collection.sources["services"]` says
why; a failed refresh keeps the last good list and reports a warning.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetwatch.agent.collectors.command import Runner, run_command
from fleetwatch.agent.collectors.service_sources import (
    systemd_services,
    sysv_services,
    windows_services,
)

SERVICES_REFRESH_SECONDS = 60.0
#: Keeps a costly source's refreshes under 0.04 % of one core: the agent's idle budget at
#: default settings is 0.05 %. SysV `service --status-all` at ~0.9 s is then refreshed about
#: every 37 minutes (systemd, ~20 ms, every minute). A service that stops on a SysV host is
#: seen that late; configure `monitored_services` to keep the query small.
SERVICES_MAX_CPU_SHARE = 0.0004
log = logging.getLogger(__name__)


@dataclass
class ServiceSources:
    """Where service data comes from; tests replace every part."""

    runner: Runner = run_command
    systemd_dir: Path = Path("/run/systemd/system")
    psutil: Any = None
    platform: str = field(default_factory=lambda: sys.platform)


def query_services(
    names: list[str], sources: ServiceSources
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One query: (rows, source status). Raises `OSError` when the chosen source fails.

    Rows found by auto-discovery (no configured names) carry `discovered: true`.
    """
    rows, status = _query_source(names, sources)
    if not names:
        for row in rows:
            row["discovered"] = True
    return rows, status


def _query_source(
    names: list[str], sources: ServiceSources
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if sources.platform == "win32":
        if sources.psutil is None or not hasattr(sources.psutil, "win_service_iter"):
            return [], {"source": "none", "detail": "psutil has no Windows service support"}
        return windows_services(names, sources.psutil), {"source": "windows", "detail": None}
    if sources.platform.startswith("linux"):
        if sources.systemd_dir.is_dir():
            return systemd_services(names, sources.runner), {"source": "systemd", "detail": None}
        try:
            rows = sysv_services(names, sources.runner)
        except FileNotFoundError:
            detail = f"no systemd ({sources.systemd_dir} missing) and no `service` command"
            return [], {"source": "none", "detail": detail}
        return rows, {"source": "sysv", "detail": None}
    return [], {"source": "none", "detail": f"services are not supported on {sources.platform}"}


class ServiceCollector:
    """Cached service list; `collect()` never blocks except on the very first query."""

    def __init__(
        self,
        sources: ServiceSources,
        *,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = sources
        self.background = background
        self._clock = clock
        self._names: list[str] = []
        self._discover = True
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] | None = None
        self._status: dict[str, Any] = {"source": "none", "detail": "not queried yet"}
        self._next_refresh = 0.0
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    def configure(self, names: list[str], discover: bool) -> None:
        """Apply `monitored_services` / `auto_discover_services`; a change forces a new query."""
        if names != self._names or discover != self._discover:
            with self._lock:
                self._names, self._discover = list(names), discover
                self._rows, self._next_refresh = None, 0.0

    def collect(self, warn: Callable[[str], None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(`services` rows, source status) from the cache, refreshing it when due."""
        if not self._names and not self._discover:
            detail = "monitored_services is empty and auto_discover_services is off"
            return [], {"source": "none", "detail": detail}
        if self._rows is None:
            self.refresh()
        elif self._clock() >= self._next_refresh and not self._refreshing():
            if self.background:
                self._thread = threading.Thread(
                    target=self.refresh, name="fleetwatch-services", daemon=True
                )
                self._thread.start()
            else:
                self.refresh()
        with self._lock:
            error, self._error = self._error, None
            rows, status = list(self._rows or []), dict(self._status)
        if error:
            warn(error)
        return rows, status

    def _refreshing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout_seconds: float = 30.0) -> None:
        """Wait for a background refresh (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout_seconds)

    def refresh(self) -> None:
        """Query the source now; on failure keep the previous rows and remember a warning."""
        names = list(self._names)
        started = self._clock()
        try:
            rows, status = query_services(names, self.sources)
            error = None
        except OSError as exc:
            rows, status = None, {"source": "none", "detail": f"query failed: {exc}"}
            error = f"services: {exc}"
        cost = max(0.0, self._clock() - started)
        with self._lock:
            if names != self._names:
                return  # reconfigured meanwhile: this result answers an old question
            if rows is not None or self._rows is None:
                self._rows = rows or []
                self._status = status
            else:  # keep the last good list, but say it is stale
                self._status = {
                    **self._status,
                    "detail": f"last good list kept; {status['detail']}",
                }
            self._error = error
            interval = max(SERVICES_REFRESH_SECONDS, cost / SERVICES_MAX_CPU_SHARE)
            self._next_refresh = self._clock() + interval
        if cost > 1.0:
            log.debug("services query took %.2f s; next in %.0f s", cost, interval)
