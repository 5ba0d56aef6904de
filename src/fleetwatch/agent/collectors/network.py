"""A1: network totals (seed-001 `network`) and per-interface counters with rates.

Counters are cumulative since the interface appeared (bytes, packets, errors and drops in
and out, as seed 002 reports them); rates come from `fleetwatch.agent.rates`. Totals sum
every interface except loopback (as Netdata, Beszel and node_exporter dashboards do: the
agent's own traffic to a hub on the same host is not the host's network traffic); the
per-interface list keeps loopback. Interface state (up, speed, MTU) is re-read every 10 s,
addresses every 60 s.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from fleetwatch.agent.collectors import Warn
from fleetwatch.agent.rates import RateTracker

COUNTERS = (
    "bytes_sent",
    "bytes_recv",
    "packets_sent",
    "packets_recv",
    "errin",
    "errout",
    "dropin",
    "dropout",
)
RATED = ("bytes_sent", "bytes_recv", "packets_sent", "packets_recv")
#: counters reported as one rate each: errors (in + out) and drops (in + out) per second
SUMMED = {"errors": ("errin", "errout"), "drops": ("dropin", "dropout")}
TRACKED = RATED + tuple(c for pair in SUMMED.values() for c in pair)
STATS_REFRESH_SECONDS = 10.0
ADDRESSES_REFRESH_SECONDS = 60.0
_INET = {socket.AF_INET, getattr(socket, "AF_INET6", socket.AF_INET)}


LOOPBACK_NAMES = frozenset({"lo", "lo0"})


def is_loopback(name: str, stat: Any = None) -> bool:
    """Linux `lo`, BSD/macOS `lo0`, Windows "Loopback Pseudo-Interface 1", or flagged so."""
    if name in LOOPBACK_NAMES or name.lower().startswith("loopback"):
        return True
    return "loopback" in str(getattr(stat, "flags", "") or "")


def _with_rates(
    out: dict[str, Any], rates: dict[tuple[str, str], float | None], prefix: str
) -> None:
    for name in RATED:
        rate = rates.get((prefix, name))
        out[f"{name}_per_sec"] = None if rate is None else round(rate, 1)
    for name, pair in SUMMED.items():
        first, second = (rates.get((prefix, counter)) for counter in pair)
        total = None if first is None or second is None else round(first + second, 2)
        out[f"{name}_per_sec"] = total


class NetworkCollector:
    """Reads interface counters from a psutil-like module and keeps rate state."""

    def __init__(self, psutil_module: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.psutil = psutil_module
        self._clock = clock
        self._rates: RateTracker[tuple[str, str]] = RateTracker()
        self._stats: dict[str, Any] = {}
        self._stats_at: float | None = None
        self._addresses: dict[str, list[str]] = {}
        self._addresses_at: float | None = None

    def _counters(self, warn: Warn) -> dict[str, dict[str, int]]:
        try:
            per_nic = self.psutil.net_io_counters(pernic=True)
        except OSError as exc:
            warn(f"network: cannot read interface counters: {exc}")
            return {}
        return {
            name: {field: max(0, int(getattr(c, field))) for field in COUNTERS}
            for name, c in per_nic.items()
        }

    def _interface_stats(self) -> dict[str, Any]:
        now = self._clock()
        if self._stats_at is None or now - self._stats_at >= STATS_REFRESH_SECONDS:
            self._stats_at = now
            try:
                self._stats = dict(self.psutil.net_if_stats())
            except OSError:
                self._stats = {}
        return self._stats

    def addresses(self) -> dict[str, list[str]]:
        """IPv4/IPv6 addresses per interface (cached 60 s)."""
        now = self._clock()
        if self._addresses_at is None or now - self._addresses_at >= ADDRESSES_REFRESH_SECONDS:
            self._addresses_at = now
            try:
                raw = self.psutil.net_if_addrs()
            except OSError:
                raw = {}
            self._addresses = {
                name: [a.address.split("%")[0] for a in addrs if a.family in _INET][:64]
                for name, addrs in raw.items()
            }
        return self._addresses

    def collect(
        self, watched: list[str], warn: Warn
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(`network` totals with rates, `interfaces` list); `watched` empty = every interface."""
        counters = self._counters(warn)
        stats = self._interface_stats()
        counted = [c for name, c in counters.items() if not is_loopback(name, stats.get(name))]
        totals: dict[str, Any] = {f: sum(c[f] for c in counted) for f in COUNTERS}
        tracked: dict[tuple[str, str], float] = {("", f): totals[f] for f in TRACKED}
        for name, values in counters.items():
            tracked.update({(name, f): values[f] for f in TRACKED})
        rates = self._rates.update(tracked, self._clock())
        _with_rates(totals, rates, "")
        for name in watched:
            if name not in counters:
                warn(f"network: watched interface {name} not found")
        addresses = self.addresses()
        interfaces: list[dict[str, Any]] = []
        for name in sorted(counters):
            if watched and name not in watched:
                continue
            entry: dict[str, Any] = {"name": name[:255], **counters[name]}
            _with_rates(entry, rates, name)
            stat = stats.get(name)
            entry["is_up"] = bool(stat.isup) if stat is not None else None
            entry["speed_mbps"] = int(stat.speed) if stat is not None and stat.speed > 0 else None
            entry["mtu"] = int(stat.mtu) if stat is not None and stat.mtu > 0 else None
            entry["addresses"] = addresses.get(name, [])
            interfaces.append(entry)
        return totals, interfaces

    def total_rates(self, warn: Warn) -> dict[str, float | None]:
        """Live mode: per-second rates of the totals only (None on the first sample)."""
        counters = self._counters(warn)
        stats = self._interface_stats()
        counted = [c for name, c in counters.items() if not is_loopback(name, stats.get(name))]
        tracked = {("", f): float(sum(c[f] for c in counted)) for f in RATED}
        rates = self._rates.update(tracked, self._clock())
        return {
            f"{f}_per_sec": None if (r := rates[("", f)]) is None else round(r, 1) for f in RATED
        }
