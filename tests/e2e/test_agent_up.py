"""`fleetwatch up`: hub + local agent as child processes; Ctrl-C stops both cleanly."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent_runtime_support import agent_env, free_port, wait_for

pytestmark = pytest.mark.e2e


def test_up_starts_hub_and_reporting_agent_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    out_path = tmp_path / "up.out"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fleetwatch.cli.main", "up", "--port", str(port),
             "--data-dir", str(data)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=agent_env(),
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: f"dashboard and API at {url}" in out_path.read_text(), timeout=60)
        config = json.loads((data / "agent.json").read_text())
        assert config["dashboard_url"] == url and config["live_enabled"] is True

        def snapshots() -> int:
            conn = sqlite3.connect(data / "fleetwatch.db", timeout=30)
            try:
                return int(conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])
            finally:
                conn.close()

        wait_for(lambda: json.loads((data / "agent.json").read_text()).get("server_id"))
        wait_for(lambda: snapshots() >= 1, timeout=30, what="the local agent's snapshot")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = out_path.read_text()
    assert "stopped after 1 cycles" in text
    assert "Application shutdown complete" in text
    assert "Traceback" not in text
