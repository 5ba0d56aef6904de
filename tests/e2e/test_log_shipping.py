"""Issue 22 end to end: a real agent process follows files that a real program writes through
`fleetwatch.applog` (and a plain log file), across rotation, truncation, an agent restart and
a SIGKILL; every line appears exactly once in the real hub's `GET /api/logs`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runtime_support import AgentProcess, wait_for
from controlhelp import start_agent, user_token
from hubtest import RunningHub, running_hub

pytestmark = pytest.mark.e2e

LEVELS = ("debug", "info", "warning", "error", "critical")
PROGRAM = """
import sys
from fleetwatch import applog

directory, token, app = sys.argv[1], sys.argv[2], sys.argv[5]
start, count = int(sys.argv[3]), int(sys.argv[4])
with applog.open(token, directory, app=app) as log:
    for i in range(start, start + count):
        level = ("debug", "info", "warning", "error", "critical")[i % 5]
        extra = "\\nsecond part" if i % 7 == 0 else ""
        getattr(log, level)(f"line {i}{extra}")
"""


def message(i: int) -> str:
    return f"line {i}" + ("\nsecond part" if i % 7 == 0 else "")


def write_through_applog(
    folder: Path, token: str, start: int, count: int, app: str = "e2eapp"
) -> None:
    subprocess.run(
        [sys.executable, "-c", PROGRAM, str(folder), token, str(start), str(count), app],
        check=True,
        timeout=60,
    )


def all_logs(api: httpx.Client, server_id: str, app: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"server": server_id, "app": app, "limit": 1000}
    while True:
        page = api.get("/api/logs", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        found += body["logs"]
        if body["next_before"] is None:
            return found
        params["before"] = body["next_before"]


def wait_count(api: httpx.Client, server_id: str, app: str, count: int) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        logs = all_logs(api, server_id, app)
        return logs if len(logs) >= count else None

    logs: list[dict[str, Any]] = wait_for(enough, timeout=30, what=f"{count} {app} lines")
    return logs


def assert_exactly_once(logs: list[dict[str, Any]], expected: list[str]) -> None:
    counts = Counter(item["message"] for item in logs)
    duplicated = {m: n for m, n in counts.items() if n > 1}
    assert duplicated == {}
    assert sorted(counts) == sorted(expected)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    with running_hub(tmp_path) as running:
        yield running


def test_applog_lines_reach_the_hub_exactly_once(hub: RunningHub, tmp_path: Path) -> None:
    apps, plain = tmp_path / "apps", tmp_path / "plain"
    apps.mkdir()
    plain.mkdir()
    logs_config = {
        "applog_dir": str(apps),
        "paths": [str(plain / "*.log")],
        "interval_seconds": 0.2,
    }
    agent, server_id = start_agent(hub, tmp_path / "agent", logs=logs_config)
    viewer = {"Authorization": f"Bearer {user_token(hub, 'vic', 'viewer')}"}
    applog_file = apps / "fleetwatch_log_e2e"
    try:
        with httpx.Client(base_url=hub.base_url, headers=viewer, timeout=10) as api:
            write_through_applog(apps, "e2e", 0, 50)
            logs = wait_count(api, server_id, "e2eapp", 50)
            assert_exactly_once(logs, [message(i) for i in range(50)])
            by_message = {item["message"]: item for item in logs}
            assert by_message["line 7\nsecond part"]["level"] == "warning"
            assert by_message["line 4"]["level"] == "critical"
            assert by_message["line 0\nsecond part"]["source"] == str(applog_file)
            assert by_message["line 1"]["hostname"] and by_message["line 1"]["ts"] > 1.7e9

            # rotation: the old file is renamed (to a name the glob also matches), a new one
            os.rename(applog_file, apps / "fleetwatch_log_e2e.1")
            write_through_applog(apps, "e2e", 50, 30)
            wait_count(api, server_id, "e2eapp", 80)

            # truncation of the live file, then fewer lines than before
            applog_file.write_bytes(b"")
            write_through_applog(apps, "e2e", 80, 20)
            wait_count(api, server_id, "e2eapp", 100)

            # the agent restarts: nothing is sent twice, later lines still arrive
            assert agent.terminate() == 0
            write_through_applog(apps, "e2e", 100, 10)
            agent = AgentProcess(agent.config)
            wait_count(api, server_id, "e2eapp", 110)

            # a plain log file: level words detected, rotated too
            plain_log = plain / "service.log"
            plain_log.write_text("2026-12-07T10:00:00Z ERROR disk on fire\nall fine\n")
            wait_count(api, server_id, "service.log", 2)
            os.rename(plain_log, plain / "service.log.1")
            plain_log.write_text("WARN after rotation\n")
            service = wait_count(api, server_id, "service.log", 3)
            assert {(s["message"], s["level"]) for s in service} == {
                ("2026-12-07T10:00:00Z ERROR disk on fire", "error"),
                ("all fine", "info"),
                ("WARN after rotation", "warning"),
            }
            assert 1796637600.0 in {s["ts"] for s in service}  # 2026-12-07T10:00:00Z

            # a SIGKILL in the middle of a backlog: after the restart, each line once
            write_through_applog(apps, "bulk", 0, 3000, app="bulkapp")
            wait_for(lambda: all_logs(api, server_id, "bulkapp"), timeout=30, what="bulk lines")
            agent.kill()
            agent = AgentProcess(agent.config)
            logs = wait_count(api, server_id, "bulkapp", 3000)
            assert_exactly_once(logs, [message(i) for i in range(3000)])
            assert len(logs) == 3000
            assert_exactly_once(
                all_logs(api, server_id, "e2eapp"), [message(i) for i in range(110)]
            )
    finally:
        agent.close()
    assert "Traceback" not in agent.output()
