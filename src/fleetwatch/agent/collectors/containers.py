"""A5: Docker containers via the Engine API unix socket: name, image, state, cpu %, memory.

Every container is listed (`all=1`); running ones get one stats call each
(`stream=false&one-shot=true`, answered at once). With one-shot the daemon sends no previous
sample, so cpu % comes from this collector's own previous reading of the same container
(none on the first), as `docker stats` does. Memory used excludes the page cache (inactive
files), as `docker stats` does. Results are refreshed every `CONTAINERS_REFRESH_SECONDS`.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from typing import Any

from fleetwatch.agent.collectors import Warn

CONTAINERS_REFRESH_SECONDS = 5.0


def _cpu_reading(stats: dict[str, Any]) -> tuple[float, float, int] | None:
    """(container CPU ns, host CPU ns, online CPUs) from a stats answer."""
    cpu = stats.get("cpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage")
    system = cpu.get("system_cpu_usage")
    if total is None or system is None:
        return None
    online = (
        cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    )
    return float(total), float(system), int(online)


def cpu_percent(
    before: tuple[float, float, int] | None, now: tuple[float, float, int] | None
) -> float | None:
    """Docker's formula: container CPU delta / host CPU delta × online CPUs × 100."""
    if before is None or now is None:
        return None
    delta_container, delta_system = now[0] - before[0], now[1] - before[1]
    if delta_system <= 0 or delta_container < 0:
        return None
    return round(delta_container / delta_system * now[2] * 100.0, 1)


def memory_figures(stats: dict[str, Any]) -> tuple[int | None, int | None, float | None]:
    """(used bytes without page cache, limit bytes, percent of limit)."""
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage")
    if usage is None:
        return None, None, None
    details = memory.get("stats") or {}
    cache = details.get(
        "inactive_file", details.get("total_inactive_file", details.get("cache", 0))
    )
    used = max(0, int(usage) - int(cache or 0))
    limit = int(memory["limit"]) if memory.get("limit") else None
    percent = round(min(100.0, used / limit * 100.0), 2) if limit else None
    return used, limit, percent


class ContainerCollector:
    """Lists containers through the Docker socket; absent socket = empty list with a status."""

    def __init__(self, socket_path: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.socket_path = socket_path
        self._clock = clock
        self._previous_cpu: dict[str, tuple[float, float, int]] = {}
        self._rows: list[dict[str, Any]] = []
        self._status: dict[str, Any] = {"source": "none", "detail": "not queried yet"}
        self._read_at: float | None = None

    def collect(self, warn: Warn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(`containers` rows, source status), refreshed every few seconds."""
        now = self._clock()
        if self._read_at is not None and now - self._read_at < CONTAINERS_REFRESH_SECONDS:
            return list(self._rows), dict(self._status)
        self._read_at = now
        try:
            mode = os.stat(self.socket_path).st_mode
        except FileNotFoundError:
            return self._absent(f"no Docker socket at {self.socket_path}")
        except OSError as exc:
            return self._absent(f"cannot stat {self.socket_path}: {exc.strerror}")
        if not stat.S_ISSOCK(mode):
            return self._absent(f"{self.socket_path} is not a socket")
        try:
            self._rows = self._query()
        except OSError as exc:
            warn(f"containers: Docker API at {self.socket_path}: {exc}")
            return self._absent(f"Docker API unavailable: {exc}")
        self._status = {"source": "docker", "detail": None}
        return list(self._rows), dict(self._status)

    def _absent(self, detail: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        self._rows, self._status = [], {"source": "none", "detail": detail}
        self._previous_cpu.clear()
        return [], dict(self._status)

    def _query(self) -> list[dict[str, Any]]:
        from fleetwatch.agent.collectors.docker_api import DockerClient  # only when Docker exists

        client = DockerClient(self.socket_path)
        try:
            listing = client.get("/containers/json?all=1")
            rows = []
            seen: set[str] = set()
            for item in listing if isinstance(listing, list) else []:
                container_id = str(item.get("Id", ""))
                seen.add(container_id)
                row = _base_row(item)
                if row["state"] == "running":
                    try:
                        stats = client.get(
                            f"/containers/{container_id}/stats?stream=false&one-shot=true"
                        )
                    except OSError:
                        stats = None  # stopped between the two calls: report without figures
                    if isinstance(stats, dict):
                        self._add_stats(row, container_id, stats)
                rows.append(row)
        finally:
            client.close()
        for gone in set(self._previous_cpu) - seen:
            del self._previous_cpu[gone]
        return rows

    def _add_stats(self, row: dict[str, Any], container_id: str, stats: dict[str, Any]) -> None:
        reading = _cpu_reading(stats)
        pre = _cpu_reading({"cpu_stats": stats.get("precpu_stats") or {}})
        previous = self._previous_cpu.get(container_id) or pre
        row["cpu_percent"] = cpu_percent(previous, reading)
        if reading is not None:
            self._previous_cpu[container_id] = reading
        used, limit, percent = memory_figures(stats)
        row["memory_used_bytes"], row["memory_limit_bytes"], row["memory_percent"] = (
            used,
            limit,
            percent,
        )


def _base_row(item: dict[str, Any]) -> dict[str, Any]:
    names = item.get("Names") or []
    name = str(names[0]).lstrip("/") if names else str(item.get("Id", ""))[:12]
    return {
        "id": str(item.get("Id", ""))[:64],
        "name": name[:255],
        "image": str(item.get("Image", ""))[:255],
        "state": str(item.get("State", ""))[:255],
        "status": str(item.get("Status", ""))[:255],
        "cpu_percent": None,
        "memory_used_bytes": None,
        "memory_limit_bytes": None,
        "memory_percent": None,
    }
