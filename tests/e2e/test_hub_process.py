"""End to end: the real `fleetwatch hub` process on a loopback port.

Durability (SIGKILL mid-ingest loses nothing acknowledged), backup of a hub under load,
`fleetwatch hub migrate`, several workers on one SQLite file.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from factories import make_snapshot
from hubtest import RunningHub, bearer, running_hub, start_hub

pytestmark = pytest.mark.e2e
NO_LIMITS = {"FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0"}


def _register(base_url: str, n: int) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        body = httpx.post(f"{base_url}/api/register", json={"hostname": f"h{i}"}).json()
        out.append(bearer(body["server_id"], body["api_key"]))
    return out


class Sender:
    """Threads posting snapshots as fast as the hub answers; records what was acknowledged."""

    def __init__(self, base_url: str, headers: list[dict[str, str]]) -> None:
        self.base_url = base_url
        self.headers = headers
        self.acked: list[tuple[str, str]] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(h,)) for h in headers]

    def _run(self, headers: dict[str, str]) -> None:
        server_id = headers["Authorization"].split(" ", 1)[1].split(":", 1)[0]
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            while not self.stop.is_set():
                snapshot_id = uuid.uuid4().hex
                try:
                    r = client.post(
                        "/api/metrics", json=make_snapshot(snapshot_id=snapshot_id), headers=headers
                    )
                except httpx.HTTPError:
                    continue
                if r.status_code == 200 and r.json()["stored"] == 1:
                    with self._lock:
                        self.acked.append((server_id, snapshot_id))

    def __enter__(self) -> Sender:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def _stored(db: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return set(conn.execute("SELECT server_id, snapshot_id FROM snapshots"))


@pytest.mark.slow
def test_sigkill_mid_ingest_loses_no_acknowledged_snapshot(tmp_path: Path) -> None:
    hub = start_hub(tmp_path / "hub", None, **NO_LIMITS)
    try:
        with Sender(hub.base_url, _register(hub.base_url, 6)) as sender:
            time.sleep(2.0)
            hub.kill()  # while the senders are mid-request
        acked = set(sender.acked)
    finally:
        hub.stop()
    assert len(acked) > 50, "too few acknowledged snapshots for a meaningful test"
    restarted = start_hub(tmp_path / "hub", None, **NO_LIMITS)  # recovers the WAL
    try:
        missing = acked - _stored(tmp_path / "hub" / "fleetwatch.db")
    finally:
        restarted.stop()
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged snapshots were lost"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "fleetwatch.cli.main", "hub", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_backup_of_a_hub_under_load_is_one_consistent_commit(tmp_path: Path) -> None:
    with running_hub(tmp_path, None, **NO_LIMITS) as hub:
        with Sender(hub.base_url, _register(hub.base_url, 4)):
            time.sleep(1.0)
            result = _cli("backup", str(tmp_path / "copy.db"), "--data-dir", str(hub.data_dir))
            time.sleep(0.3)
        assert result.returncode == 0, result.stderr
        assert "backup written to" in result.stdout
        again = _cli("backup", str(tmp_path / "copy.db"), "--data-dir", str(hub.data_dir))
        assert again.returncode == 1 and "already exists" in again.stderr
    with sqlite3.connect(tmp_path / "copy.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        (count,) = conn.execute("SELECT count(*) FROM snapshots").fetchone()
        (rolled,) = conn.execute("SELECT sum(cpu_percent_n) FROM rollup_1m").fetchone()
        (latest,) = conn.execute("SELECT count(*) FROM servers WHERE latest IS NULL").fetchone()
    assert count > 0
    assert rolled == count  # snapshots and rollups come from the same commit
    assert latest == 0


def test_backup_refuses_postgresql_and_missing_databases(tmp_path: Path) -> None:
    pg = _cli("backup", str(tmp_path / "x.db"), "--database-url", "postgresql://u@h/db")
    assert pg.returncode == 1 and "pg_dump" in pg.stderr
    missing = _cli("backup", str(tmp_path / "x.db"), "--data-dir", str(tmp_path / "none"))
    assert missing.returncode == 1 and "no hub database" in missing.stderr


def test_migrate_command_creates_then_reports_current(tmp_path: Path) -> None:
    first = _cli("migrate", "--data-dir", str(tmp_path))
    assert first.returncode == 0 and "upgraded from empty" in first.stdout
    second = _cli("migrate", "--data-dir", str(tmp_path))
    assert second.returncode == 0 and "is current" in second.stdout
    bad = _cli("--port", "99999")
    assert bad.returncode == 2 and "port" in bad.stderr


@pytest.mark.slow
def test_two_workers_share_one_sqlite_file(tmp_path: Path) -> None:
    with running_hub(tmp_path, None, "--workers", "2", **NO_LIMITS) as hub:
        headers = _register(hub.base_url, 4)
        with httpx.Client(base_url=hub.base_url) as client:
            for i in range(40):
                payload = make_snapshot(snapshot_id=f"s{i}")
                r = client.post("/api/metrics", json=payload, headers=headers[i % 4])
                assert r.status_code == 200, r.text
        _assert_quiet_log(hub)
    assert len(_stored(hub.data_dir / "fleetwatch.db")) == 40


def _assert_quiet_log(hub: RunningHub) -> None:
    """No per-request access lines by default, and no tracebacks."""
    log = hub.log()
    assert "POST /api/metrics" not in log
    assert "Traceback" not in log
