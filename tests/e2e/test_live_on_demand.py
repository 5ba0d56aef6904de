"""End to end, live on demand (A6): a real agent with live mode off starts posting live samples
every second once somebody watches its server on a real hub, and stops when the watch ends."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent_runtime_support import AgentProcess, HubProcess, free_port, wait_for, write_config

pytestmark = pytest.mark.e2e


def _live_rows(hub: HubProcess) -> list[float]:
    conn = sqlite3.connect(hub.data_dir / "fleetwatch.db", timeout=30)
    try:
        return [float(r[0]) for r in conn.execute("SELECT ts FROM live_samples ORDER BY ts")]
    finally:
        conn.close()


def test_watching_a_server_makes_its_agent_stream_until_the_watch_ends(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "hub", free_port()).start()
    agent: AgentProcess | None = None
    try:
        made = subprocess.run(
            [sys.executable, "-m", "fleetwatch.cli.main", "user", "token", "admin",
             "--data-dir", str(hub.data_dir)],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        auth = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        config = write_config(
            tmp_path / "agent.json",
            dashboard_url=hub.url,
            collection_interval_seconds=2,
            live_enabled=False,
            log_file="agent.log",
        )
        agent = AgentProcess(config)
        wait_for(lambda: json.loads(config.read_text()).get("server_id"), what="enrolment")
        server_id = json.loads(config.read_text())["server_id"]
        time.sleep(3)
        assert _live_rows(hub) == [], "live mode is off and nobody watches: no live samples"

        watched = httpx.post(
            f"{hub.url}/api/dashboard/server/{server_id}/live/watch",
            params={"seconds": 10},
            headers=auth,
            timeout=10,
        )
        assert watched.status_code == 200, watched.text
        # the agent learns it from its next answer (a snapshot every 2 s) and samples every 1 s
        wait_for(lambda: len(_live_rows(hub)) >= 4, timeout=15, what="live samples on demand")
        stamps = _live_rows(hub)
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert max(gaps) < 2.0, gaps
        # the watch (10 s) ends: the agent falls back to live mode off
        time.sleep(12)
        settled = len(_live_rows(hub))
        time.sleep(3)
        assert len(_live_rows(hub)) == settled, "streaming stops when nobody watches"
        assert "somebody is watching this host" in (tmp_path / "agent.log").read_text()
    finally:
        if agent is not None:
            agent.close()
        hub.stop()
