"""When the sender tries the hub again after a failure (A8): capped backoff and cheap probes.

A failed delivery or registration waits `retry_delay_seconds` × 2ⁿ⁻¹, with jitter (× 0.5–1),
capped at `WAITING_BACKOFF_SECONDS` while snapshots wait in the buffer (an operator should not
see a hole longer than the outage) and at `MAX_BACKOFF_SECONDS` otherwise. During the wait the
sender probes the hub with `GET /api/ping` — no authentication, no body, a short timeout —
about once per collection interval (never more often than `MIN_PROBE_SECONDS`): an answer
below 500 means the hub is back, and the next attempt is made at once. When a probe said "back"
and the delivery after it failed again, probes are not trusted until the next success: the
backoff alone paces the attempts. A 429's Retry-After and a repeated key rejection are waited
out without probes; they are the hub's own answer, not its absence.
"""

from __future__ import annotations

import logging
import math
import random
import time

from fleetwatch.agent.hub_client import HubClient
from fleetwatch.errors import TransportError

log = logging.getLogger("fleetwatch.agent.delivery")

MAX_BACKOFF_SECONDS = 300.0
#: the cap while snapshots wait in the buffer
WAITING_BACKOFF_SECONDS = 5.0
MIN_BACKOFF_SECONDS = 0.2
MIN_PROBE_SECONDS = 0.5
PROBE_TIMEOUT_SECONDS = 2.0


def backoff_seconds(
    failures: int, base_seconds: float, rng: random.Random, cap: float = MAX_BACKOFF_SECONDS
) -> float:
    """Delay after the n-th consecutive failure: base × 2^(n-1), capped, with 50 % jitter."""
    delay = max(MIN_BACKOFF_SECONDS, base_seconds) * 2.0 ** min(failures - 1, 30)
    return min(cap, delay) * rng.uniform(0.5, 1.0)


def hub_is_back(status: int) -> bool:
    """Whether a probe's HTTP status says the hub takes requests again (a seed-001 hub without
    `GET /api/ping` answers 404 or 405: it is up all the same)."""
    return status < 500 and status != 429


class RetryClock:
    """The sender's waiting state: no attempt before `not_before`, a probe from `probe_at` on."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.failures = 0
        self.not_before = 0.0
        self.probe_at = math.inf
        #: the wait is the hub's Retry-After: no probe, and no last attempt on stop
        self.throttled = False
        self._probe_period = MIN_PROBE_SECONDS
        self._probe_trusted = True
        self._after_probe = False

    def waiting(self, now: float) -> bool:
        return now < self.not_before

    def probe_due(self, now: float) -> bool:
        return now >= self.probe_at

    def wake_at(self) -> float:
        return min(self.not_before, self.probe_at)

    def failed(self, base_seconds: float, snapshots_wait: bool, interval: float) -> float:
        """A delivery or registration failed: the delay before the next attempt (probes may
        end it earlier)."""
        self.failures += 1
        if self._after_probe:  # the probe said "back" but the attempt failed: pace by backoff
            self._probe_trusted = False
        self._after_probe = False
        cap = WAITING_BACKOFF_SECONDS if snapshots_wait else MAX_BACKOFF_SECONDS
        delay = backoff_seconds(self.failures, base_seconds, self.rng, cap)
        now = time.monotonic()
        self.not_before = now + delay
        self.throttled = False
        self._probe_period = max(MIN_PROBE_SECONDS, min(interval, WAITING_BACKOFF_SECONDS))
        self.probe_at = self._next_probe(now) if self._probe_trusted else math.inf
        return delay

    def hold(self, delay: float, *, throttled: bool = False) -> None:
        """Wait `delay` seconds without probing (Retry-After, a repeated key rejection)."""
        self.not_before = time.monotonic() + delay
        self.probe_at = math.inf
        self.throttled = throttled

    def probe(self, client: HubClient) -> None:
        """`GET /api/ping`: when the hub is back, end the wait (the next attempt is now)."""
        try:
            status = client.probe(PROBE_TIMEOUT_SECONDS)
        except TransportError:
            status = None
        if status is None or not hub_is_back(status):
            self.probe_at = self._next_probe(time.monotonic())
            return
        log.debug("GET /api/ping answered %d: trying the hub again now", status)
        self.not_before = 0.0
        self.probe_at = math.inf
        self._after_probe = True

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before = 0.0
        self.probe_at = math.inf
        self.throttled = False
        self._probe_trusted = True
        self._after_probe = False

    def _next_probe(self, now: float) -> float:
        return now + self._probe_period * self.rng.uniform(0.8, 1.0)
