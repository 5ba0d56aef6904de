"""Self-monitoring (H15): the trend detector tells a steady rise from steps, saw teeth and
noise; a steady rise becomes one in-app notification (not one a minute), read back through
the notifications API of a real in-process hub; `/metrics` and `GET /api/dashboard/hub`
carry the figures."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from authhelp import token_for
from fleetwatch.hub.services.selfmon import HubSample, monitor_of, trend
from hubtest import ctx_of, sync_hub_client

MIB = 1 << 20
HOUR = 3600.0


def series(values: list[float], step: float = 60.0) -> list[HubSample]:
    return [HubSample(1_000_000 + i * step, int(v), 0, 10, 20, 3, (1, 2, 3), 0)
            for i, v in enumerate(values)]  # fmt: skip


def test_a_steady_rise_is_rising() -> None:
    rng = random.Random(4)
    leak = series([200 * MIB + i * 0.5 * MIB + rng.uniform(-MIB, MIB) for i in range(61)])
    t = trend(leak, HOUR, 10 * MIB)
    assert t.rising and 29 * MIB < t.bytes_per_hour < 31 * MIB and t.fit > 0.9


@pytest.mark.parametrize(
    "values",
    [
        [200 * MIB] * 61,  # flat
        [200 * MIB if i < 10 else 260 * MIB for i in range(61)],  # one step: a cache filled
        [200 * MIB + (i % 10) * 5 * MIB for i in range(61)],  # saw teeth: the collector
        [200 * MIB + i * 0.05 * MIB for i in range(61)],  # 3 MiB/h: below the threshold
    ],
)
def test_steps_saw_teeth_and_slow_drift_are_not(values: list[float]) -> None:
    assert not trend(series(values), HOUR, 10 * MIB).rising


def test_too_short_a_history_is_not_rising_yet() -> None:
    start = series([200 * MIB + i * MIB for i in range(20)])  # 20 minutes of an hour
    assert not trend(start, HOUR, 10 * MIB).rising


def test_a_rise_warns_once_in_the_app(tmp_path: Path) -> None:
    with sync_hub_client(tmp_path) as client:
        monitor = monitor_of(ctx_of(client))
        assert monitor is not None
        view = client.get("/api/dashboard/hub").json()
        assert view["current"]["rss_bytes"] > 10 * MIB  # the first sample, taken at start
        monitor.samples.clear()  # the data source: a process leaking 30 MiB an hour
        monitor.samples.extend(series([200 * MIB + i * 0.5 * MIB for i in range(61)]))
        first = client.run(monitor.check(now=2_000_000))
        again = client.run(monitor.check(now=2_000_060))
        assert first.rising and again.rising
        unread = client.get("/api/dashboard/notifications").json()
        warnings = [n for n in unread if n["title"] == "Hub memory rising"]
        assert len(warnings) == 1 and warnings[0]["level"] == "WARNING"
        assert "30.0 MiB per hour" in warnings[0]["message"]
        token = client.run(token_for(ctx_of(client), "admin", name="scraper"))
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).text
        assert "fleetwatch_hub_memory_rising 1.0" in metrics
        assert "fleetwatch_hub_threads 10.0" in metrics
