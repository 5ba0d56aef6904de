"""Request rate limits (H1): token buckets kept in memory, per hub process.

Seed 001 allows 120 requests per minute. fleetwatch applies that budget
- per client IP to registration and to requests that fail (unauthenticated, bad key, invalid
  body), so a misbehaving client is slowed down without costing database lookups, and
- per server key to authenticated ingest, so many agents behind one NAT address never
  throttle each other.

A bucket holds `per_minute` tokens and refills continuously (`per_minute / 60` per second):
bursts up to the budget pass, a sustained rate above it gets 429 with `Retry-After` seconds.
`per_minute = 0` disables limiting. With several hub processes each enforces its own budget.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass, field

from fleetwatch.hub.api.caller import Caller
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.context import HubContext

_MAX_KEYS = 200_000  # buckets kept before idle (full) ones are dropped


@dataclass
class RateLimiter:
    per_minute: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, updated

    def _tokens(self, key: str, now: float) -> float:
        tokens, updated = self.buckets.get(key, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - updated) * self.per_minute / 60.0)

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may send again; 0 when it may send now (consumes nothing)."""
        if self.per_minute <= 0:
            return 0
        tokens = self._tokens(key, time.monotonic())
        if tokens >= 1.0:
            return 0
        return max(1, math.ceil((1.0 - tokens) * 60.0 / self.per_minute))

    def consume(self, key: str, cost: float = 1.0) -> int:
        """Spend `cost` tokens (at most a full bucket); returns 0 if allowed, else the
        `Retry-After` seconds (nothing spent)."""
        if self.per_minute <= 0:
            return 0
        cost = min(float(self.per_minute), cost)
        now = time.monotonic()
        tokens = self._tokens(key, now)
        if tokens < cost:
            return max(1, math.ceil((cost - tokens) * 60.0 / self.per_minute))
        if len(self.buckets) >= _MAX_KEYS:
            self._prune(now)
        self.buckets[key] = (tokens - cost, now)
        return 0

    def _prune(self, now: float) -> None:
        full = [k for k in self.buckets if self._tokens(k, now) >= self.per_minute]
        for key in full:
            del self.buckets[key]
        if len(self.buckets) >= _MAX_KEYS:
            self.buckets.clear()


def too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"too many requests; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def limiter(ctx: HubContext, name: str) -> RateLimiter:
    """The process's limiter called `name` ("ip", "server"), created on first use."""
    found = ctx.extras.get(f"ratelimit.{name}")
    if found is None:
        found = ctx.extras[f"ratelimit.{name}"] = RateLimiter(ctx.settings.rate_limit_per_minute)
    assert isinstance(found, RateLimiter)
    return found


def client_ip(ctx: HubContext, request: Caller) -> str:
    """The caller's address; `X-Forwarded-For` is believed only from `trusted_proxies`."""
    peer = request.client.host if request.client else "unknown"
    trusted = ctx.settings.trusted_proxies
    if trusted and peer in {p.strip() for p in trusted.split(",")}:
        forwarded = request.headers.get("x-forwarded-for", "")
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            return peer
    return peer
