"""Two hub worker processes on one SQLite file: one leader evaluates every snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from factories import make_snapshot
from hubtest import bearer, running_hub, wait_for_alerts

pytestmark = pytest.mark.e2e


def test_alerts_fire_for_snapshots_from_every_worker(tmp_path: Path) -> None:
    with running_hub(tmp_path, None, "--workers", "2", FLEETWATCH_RATE_LIMIT_PER_MINUTE="0") as hub:
        hosts = []
        for i in range(8):  # new connections each: the kernel spreads them over both workers
            with httpx.Client(base_url=hub.base_url, timeout=10) as agent:
                reg = agent.post("/api/register", json={"hostname": f"cpu-{i}"}).json()
                body = make_snapshot(
                    snapshot_id=f"hot-{i}", collected_at=datetime.now(UTC).isoformat(),
                    watched_processes={}, services=[], metrics={"cpu_percent": 99.0},
                )  # fmt: skip
                r = agent.post(
                    "/api/metrics", json=body, headers=bearer(reg["server_id"], reg["api_key"])
                )
                assert r.status_code == 200, r.text
                hosts.append(reg["server_id"])
        wait_for_alerts(hub, "cpu_percent", set(hosts))
        log = hub.log()
        assert log.count("schema current, leader: True") == 1, log  # exactly one leader
        assert log.count("schema current, leader: False") == 1, log
