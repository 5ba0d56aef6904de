"""End to end: a real hub process on a loopback port, `fleetwatch demo` filling it through the
public API, the dashboard API showing the fleet, and `fleetwatch export` writing JSON and CSV."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningHub:
    url: str
    token: str  # a dashboard API token of the first admin

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    port = _free_port()
    env = {**os.environ, "FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0"}
    log = (tmp_path / "hub.log").open("wb")
    proc = subprocess.Popen(
        [*FLEETWATCH, "hub", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/ping", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("hub did not start:\n" + (tmp_path / "hub.log").read_text())
            time.sleep(0.1)
        made = _cli("user", "token", "admin", "--data-dir", str(tmp_path / "data"))
        assert made.returncode == 0, made.stderr
        yield RunningHub(url, made.stdout.strip().splitlines()[-1])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "FLEETWATCH_TOKEN"}
    return subprocess.run(
        [*FLEETWATCH, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**environ, **(env or {})},
    )


def test_demo_fills_the_dashboard_and_export_writes_files(hub: RunningHub, tmp_path: Path) -> None:
    hub_url = hub.url
    demo = _cli(
        "demo", "--url", hub_url, "--count", "6", "--rounds", "4",
        "--live", "--live-ticks", "5", "--history-hours", "3",
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert "6 servers in 5 groups" in demo.stdout

    dash = httpx.get(f"{hub_url}/api/dashboard", headers=hub.auth, timeout=10).json()
    assert dash["summary"]["total_servers"] == 6
    assert dash["summary"]["online_servers"] == 6
    assert {g["name"] for g in dash["groups"]} == {
        "production", "staging", "database", "web", "monitoring",
    }  # fmt: skip
    assert all(s["metrics"]["cpu_percent"] is not None for s in dash["servers"])
    hot = [s for s in dash["servers"] if s["metrics"]["disk_percent_max"] > 90]
    assert hot, "some demo servers run hot"

    sid = dash["servers"][0]["id"]
    detail = httpx.get(
        f"{hub_url}/api/dashboard/server/{sid}", params={"hours": 6}, headers=hub.auth
    ).json()
    assert detail["history"]["points"] >= 30  # 3 h backfill every 5 min + 4 rounds
    assert detail["latest"]["processes"] and detail["latest"]["services"]
    live = httpx.get(
        f"{hub_url}/api/dashboard/server/{sid}/live", params={"minutes": 5}, headers=hub.auth
    ).json()
    assert len(live["samples"]) == 5 and live["benchmark"]["samples"] == 5

    token_file = tmp_path / "token"
    token_file.write_text(hub.token + "\n")
    out_json = tmp_path / "fleet.json"
    r = _cli(
        "export", "--url", hub_url, "--format", "json", "--hours", "24", "--out", str(out_json),
        "--token-file", str(token_file),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(out_json.read_text())
    assert len(data["servers"]) == 6
    assert all(len(s["history"]) >= 40 for s in data["servers"])

    out_csv = tmp_path / "fleet.csv"
    r = _cli(
        "export", "--url", hub_url, "--format", "csv", "--hours", "24", "--out", str(out_csv),
        env={"FLEETWATCH_TOKEN": hub.token},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    with out_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len({row["server_id"] for row in rows}) == 6
    assert all(0 <= float(row["cpu_percent"]) <= 100 for row in rows)

    # bad input and an unreachable hub: clear errors, exit codes 2 and 1, no partial file
    bad = _cli("export", "--url", hub_url, "--hours", "0", "--out", str(tmp_path / "x.json"))
    assert bad.returncode == 2 and "--hours" in bad.stderr
    gone = _cli("export", "--url", "http://127.0.0.1:1", "--out", str(tmp_path / "y.json"))
    assert gone.returncode == 1 and "cannot reach the hub" in gone.stderr
    assert not (tmp_path / "y.json").exists()
    anonymous = _cli("export", "--url", hub_url, "--out", str(tmp_path / "z.json"))
    assert anonymous.returncode == 1 and "HTTP 401" in anonymous.stderr
    assert not (tmp_path / "z.json").exists()


def test_deleted_server_can_no_longer_send(hub: RunningHub) -> None:
    hub_url = hub.url
    reg = httpx.post(f"{hub_url}/api/register", json={"hostname": "short-lived"}).json()
    auth = {"Authorization": f"Bearer {reg['server_id']}:{reg['api_key']}"}
    from fleetwatch.demo import make_fleet, make_snapshot

    snap = make_snapshot(make_fleet(1)[0], time.time())
    assert httpx.post(f"{hub_url}/api/metrics", json=snap, headers=auth).status_code == 200
    r = httpx.delete(f"{hub_url}/api/dashboard/server/{reg['server_id']}", headers=hub.auth)
    assert r.status_code == 200 and r.json()["deleted"]["snapshots"] == 1
    assert httpx.post(f"{hub_url}/api/metrics", json=snap, headers=auth).status_code == 401
    dash = httpx.get(f"{hub_url}/api/dashboard", headers=hub.auth).json()
    assert dash["summary"]["total_servers"] == 0
