"""`fleetwatch cleanup` runs a real hub's cleanup through its API and says what went (T1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from factories import make_snapshot
from hubtest import admin_token, bearer, running_hub

pytestmark = pytest.mark.e2e


def _cli(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLEETWATCH_TOKEN"}
    if token is not None:
        env["FLEETWATCH_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "fleetwatch.cli.main", "cleanup", *args],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )  # fmt: skip


def test_cleanup_deletes_what_retention_no_longer_keeps(tmp_path: Path) -> None:
    with running_hub(tmp_path, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0") as hub:
        token = admin_token(hub)
        admin = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=hub.base_url, timeout=10) as http:
            reg = http.post("/api/register", json={"hostname": "old-box"}).json()
            agent = bearer(reg["server_id"], reg["api_key"])
            three_hours_ago = datetime.now(UTC) - timedelta(hours=3)
            for i in range(3):
                at = (three_hours_ago + timedelta(minutes=i)).isoformat()
                snap = make_snapshot(snapshot_id=uuid.uuid4().hex, collected_at=at)
                assert http.post("/api/metrics", json=snap, headers=agent).status_code == 200
            r = http.patch(
                "/api/dashboard/settings", json={"raw_retention_hours": 1}, headers=admin
            )
            assert r.status_code == 200, r.text

        anonymous = _cli("--url", hub.base_url)
        assert anonymous.returncode == 1
        assert "HTTP 401" in anonymous.stderr and "FLEETWATCH_TOKEN" in anonymous.stderr

        done = _cli("--url", hub.base_url, token=token)
        assert done.returncode == 0, done.stderr
        assert "rows deleted" in done.stdout and "snapshots 3" in done.stdout

        again = _cli("--url", hub.base_url, "--json", token=token)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["deleted"]["snapshots"] == 0


def test_cleanup_reports_bad_arguments_and_unreachable_hubs() -> None:
    bad = _cli("--url", "ftp://hub")
    assert bad.returncode == 2 and "--url" in bad.stderr
    gone = _cli("--url", "http://127.0.0.1:1", token="fwu_x")
    assert gone.returncode == 1 and "cannot reach the hub" in gone.stderr
