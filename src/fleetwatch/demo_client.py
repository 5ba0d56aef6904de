"""Drive a simulated fleet (`fleetwatch.demo`) against a hub through its public API only:
`POST /api/register`, `POST /api/metrics` (single and batched) and `POST /api/metrics/live`.

Standard library HTTP (urllib); a 429 is retried after its `Retry-After`.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetwatch.demo import Profile, make_fleet, make_live_sample, make_snapshot, registration
from fleetwatch.errors import TransportError

BATCH_SIZE = 500


@dataclass
class DemoServer:
    profile: Profile
    server_id: str
    api_key: str

    @property
    def authorization(self) -> str:
        return f"Bearer {self.server_id}:{self.api_key}"


@dataclass
class DemoResult:
    servers: list[DemoServer] = field(default_factory=list)
    snapshots_sent: int = 0
    duplicates: int = 0
    live_samples_sent: int = 0
    requests: int = 0
    seconds: float = 0.0


class HubClient:
    """Minimal JSON-over-HTTP client of the hub's public API."""

    def __init__(self, url: str, timeout_seconds: float = 30.0, max_retries: int = 5) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout_seconds
        self.max_retries = max_retries
        self.requests = 0

    def post(self, path: str, body: Any, authorization: str | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(self.url + path, data, headers, method="POST")
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    answer: dict[str, Any] = json.loads(response.read() or b"{}")
                    return answer
            except urllib.error.HTTPError as exc:
                text = exc.read().decode("utf-8", "replace")[:500]
                if exc.code == 429 and attempt < self.max_retries:
                    time.sleep(min(60.0, float(exc.headers.get("Retry-After") or 1)))
                    continue
                raise TransportError(f"POST {path}: HTTP {exc.code}: {text}", exc.code) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise TransportError(f"cannot reach the hub at {self.url}: {reason}") from None
        raise TransportError(f"POST {path}: still rate limited after {self.max_retries} retries")


def register(client: HubClient, profile: Profile) -> DemoServer:
    answer = client.post("/api/register", registration(profile))
    return DemoServer(profile, str(answer["server_id"]), str(answer["api_key"]))


def send_snapshots(client: HubClient, server: DemoServer, stamps: list[float]) -> tuple[int, int]:
    """Send snapshots at `stamps` (batched); returns (stored, duplicates)."""
    stored = duplicates = 0
    for i in range(0, len(stamps), BATCH_SIZE):
        chunk = [make_snapshot(server.profile, ts) for ts in stamps[i : i + BATCH_SIZE]]
        body: Any = chunk[0] if len(chunk) == 1 else {"snapshots": chunk}
        answer = client.post("/api/metrics", body, server.authorization)
        stored += int(answer.get("stored", len(chunk)))
        duplicates += int(answer.get("duplicates", 0))
    return stored, duplicates


def run_demo(
    url: str,
    count: int = 8,
    rounds: int = 12,
    *,
    round_interval_seconds: float = 60.0,
    live: bool = False,
    live_ticks: int = 30,
    live_interval_seconds: float = 2.0,
    history_hours: float = 0.0,
    history_step_seconds: float = 300.0,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Register `count` servers and send their data; `rounds` snapshots each, the last at now.

    `history_hours` first backfills that much history (one snapshot per `history_step_seconds`,
    batched) so charts have data at once; `live` adds `live_ticks` live samples per server.
    """
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    client = HubClient(url)
    now = time.time()
    result = DemoResult()
    for profile in make_fleet(count, seed=seed, now=now):
        result.servers.append(register(client, profile))
    say(f"registered {len(result.servers)} servers")
    first_round = now - (rounds - 1) * round_interval_seconds
    for server in result.servers:
        stamps: list[float] = []
        if history_hours > 0:
            t = first_round - history_hours * 3600.0
            while t < first_round:
                stamps.append(t)
                t += history_step_seconds
        stamps += [first_round + r * round_interval_seconds for r in range(rounds)]
        stored, dups = send_snapshots(client, server, stamps)
        result.snapshots_sent += stored
        result.duplicates += dups
    say(f"sent {result.snapshots_sent} snapshots")
    if live:
        for server in result.servers:
            for tick in range(live_ticks):
                ts = now - (live_ticks - 1 - tick) * live_interval_seconds
                sample = make_live_sample(server.profile, ts)
                client.post("/api/metrics/live", sample, server.authorization)
                result.live_samples_sent += 1
        say(f"sent {result.live_samples_sent} live samples")
    result.requests = client.requests
    result.seconds = time.monotonic() - started
    return result
