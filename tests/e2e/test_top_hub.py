"""End to end: `fleetwatch top --url URL --server NAME --once` draws a server as a real hub
process stores it (latest snapshot, the hub's active alerts, status), and fails clearly on a
wrong token or an unknown server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from factories import make_disk, make_snapshot
from hubtest import RunningHub, bearer, running_hub

pytestmark = pytest.mark.e2e
FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]


def _cli(*args: str, token: str = "", columns: int = 160) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETWATCH_")}
    env["FLEETWATCH_TOKEN"] = token
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [*FLEETWATCH, *args], capture_output=True, text=True, timeout=60, check=False, env=env
    )


def _serve_one_server(hub: RunningHub) -> None:
    reg = httpx.post(f"{hub.base_url}/api/register", json={"hostname": "db-top-7"}, timeout=10)
    assert reg.status_code == 201, reg.text
    creds = reg.json()
    snapshot = make_snapshot(collected_at=None)
    snapshot["metrics"]["disks"] = [make_disk("/srv/pgdata", percent=99.0)]
    sent = httpx.post(
        f"{hub.base_url}/api/metrics",
        json=snapshot,
        headers=bearer(creds["server_id"], creds["api_key"]),
        timeout=10,
    )
    assert sent.status_code == 200, sent.text


def test_top_shows_a_server_through_the_hub(tmp_path: Path) -> None:
    with running_hub(tmp_path, None, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0") as hub:
        made = _cli("user", "token", "admin", "--data-dir", str(hub.data_dir))
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip().splitlines()[-1]
        _serve_one_server(hub)
        # the hub's engine raises the disk alert (critical at 95 %) within its poll interval
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            alerts = httpx.get(
                f"{hub.base_url}/api/dashboard/alerts", headers={"Authorization": f"Bearer {token}"}
            ).json()
            if alerts.get("alerts") if isinstance(alerts, dict) else alerts:
                break
            time.sleep(0.3)

        shown = _cli("top", "--url", hub.base_url, "--server", "DB-TOP-7", "--once", token=token)
        assert shown.returncode == 0, shown.stderr
        out = shown.stdout
        assert "db-top-7" in out  # header: the hub's name for the server
        assert "postgres" in out  # the process list of the stored snapshot
        assert "/srv/pgdata" in out  # its disks
        assert "db-top-7 is online, latest snapshot " in out
        assert f"(hub {hub.base_url})" in out
        assert "CRITICAL" in out and "/srv/pgdata" in out.split("Alerts (")[1]

        for mode in ((), ("--detailed",)):  # an 80-column terminal: nothing wraps
            args = ("top", "--url", hub.base_url, "--server", "db-top-7", "--once", *mode)
            narrow = _cli(*args, token=token, columns=80)
            assert narrow.returncode == 0, narrow.stderr
            lines = narrow.stdout.splitlines()
            assert max(len(line) for line in lines) <= 80
            assert "  up " in lines[0] and " procs  " in lines[0]  # the header is one line
            assert lines[-1].startswith("db-top-7 is online, latest snapshot ")
            pgdata = next(line for line in lines if line.startswith(" /srv/pgdata"))
            assert "99.0%" in pgdata and "GiB" in pgdata

        refused = _cli("top", "--url", hub.base_url, "--server", "db-top-7", "--once", token="x")
        assert refused.returncode == 1
        assert "HTTP 401" in refused.stderr and "fleetwatch user token" in refused.stderr

        unknown = _cli("top", "--url", hub.base_url, "--server", "nope", "--once", token=token)
        assert unknown.returncode == 2
        assert "no server named 'nope'" in unknown.stderr and "db-top-7" in unknown.stderr
