"""What a stream client asked for: `subscribe` with optional `servers`, `families`, `rate_seconds`.

- `servers`: server ids or group names (a server matches when its id or its group is listed);
  absent = every server the caller may read;
- `families`: any of `messages.KNOWN_FAMILIES`; absent = all of `messages.FAMILIES` (`alerts`
  included; `live`, every live sample as `live_data`, only when named);
- `log_level`: with family `logs`, only lines at this level and above;
- `rate_seconds`: at most one `monitoring_data` per server per this many seconds (0 = every
  snapshot); alerts are never held back.
A bad field is a typed `error` naming it; the previous subscription stays as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleetwatch.hub.stream.messages import FAMILIES, KNOWN_FAMILIES, SNAPSHOT_FAMILIES

MAX_SERVERS = 10_000
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
MAX_RATE_SECONDS = 86_400.0


class SubscriptionError(ValueError):
    """A `subscribe` message that names a bad field (the message says which)."""


@dataclass(frozen=True)
class Filter:
    servers: frozenset[str] | None = None  # ids or group names; None = all
    families: frozenset[str] = FAMILIES
    rate_seconds: float = 0.0
    log_level: str | None = None  # family `logs`: lines at this level and above
    #: the snapshot families, sorted: the key messages are encoded (and shared) under
    key: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", tuple(sorted(self.families & SNAPSHOT_FAMILIES)))

    def wants_server(self, server_id: str, group: str | None) -> bool:
        if self.servers is None:
            return True
        return server_id in self.servers or (group is not None and group in self.servers)

    def describe(self) -> dict[str, Any]:
        return {
            "servers": None if self.servers is None else sorted(self.servers),
            "families": sorted(self.families),
            "rate_seconds": self.rate_seconds,
            **({"log_level": self.log_level} if self.log_level else {}),
        }


def _strings(value: Any, name: str, limit: int, max_length: int) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SubscriptionError(f"{name}: must be a list of strings")
    if len(value) > limit:
        raise SubscriptionError(f"{name}: at most {limit} entries")
    if any(not v or len(v) > max_length or "\x00" in v for v in value):
        raise SubscriptionError(f"{name}: each entry is 1-{max_length} characters")
    return frozenset(value)


def parse_subscription(message: Mapping[str, Any]) -> Filter:
    """The filter a `subscribe` message asks for (SubscriptionError naming the bad field)."""
    servers = message.get("servers")
    chosen = None if servers is None else _strings(servers, "servers", MAX_SERVERS, 255)
    families = FAMILIES
    if message.get("families") is not None:
        families = _strings(message["families"], "families", len(KNOWN_FAMILIES), 32)
        unknown = sorted(families - KNOWN_FAMILIES)
        if unknown:
            known = ", ".join(sorted(KNOWN_FAMILIES))
            raise SubscriptionError(f"families: unknown {', '.join(unknown)} (known: {known})")
    rate = message.get("rate_seconds", 0)
    if rate is None:
        rate = 0
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
        raise SubscriptionError("rate_seconds: must be a number of seconds")
    if not 0 <= rate <= MAX_RATE_SECONDS:
        raise SubscriptionError(f"rate_seconds: must be between 0 and {MAX_RATE_SECONDS:g}")
    level = message.get("log_level")
    if level is not None and level not in LOG_LEVELS:
        raise SubscriptionError(f"log_level: one of {', '.join(LOG_LEVELS)}")
    return Filter(chosen, families, float(rate), level)
