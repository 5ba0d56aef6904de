"""A14 end to end: a real agent manages a real console program (`fixtures/echo_console.py`):
the hub starts, stops and restarts it, relays stdin lines through the agent's FIFO (and the
`_commands.txt` queue, de-duplicated), shows its output, restarts it after a crash, and every
wrong request is a clear 4xx."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runtime_support import wait_for
from controlhelp import connected, start_agent
from hubtest import RunningHub, admin_token, running_hub

pytestmark = pytest.mark.e2e
CONSOLE = Path(__file__).parents[1] / "fixtures" / "echo_console.py"


@pytest.fixture
def managed(tmp_path: Path) -> Iterator[tuple[RunningHub, str, Path, httpx.Client]]:
    with running_hub(
        tmp_path, None, "--ingest-workers", "0", FLEETWATCH_RATE_LIMIT_PER_MINUTE="0"
    ) as hub:
        spec = {"name": "echo", "argv": [sys.executable, str(CONSOLE)], "restart": "on-failure"}
        agent, server_id = start_agent(hub, tmp_path / "host", processes=[spec])
        try:
            headers = {"Authorization": f"Bearer {admin_token(hub)}"}
            with httpx.Client(base_url=hub.base_url, headers=headers, timeout=15) as api:
                connected(api, server_id)
                yield hub, server_id, tmp_path / "host" / "processes", api
        finally:
            agent.close()


def state(api: httpx.Client, server_id: str) -> dict[str, Any]:
    got: dict[str, Any] = api.get(f"/api/servers/{server_id}/processes/echo").json()
    return got


def lines(api: httpx.Client, server_id: str) -> list[str]:
    return [line["data"].rstrip("\n") for line in state(api, server_id)["lines"]]


def test_start_stop_input_and_crash_restart(
    managed: tuple[RunningHub, str, Path, httpx.Client],
) -> None:
    _hub, server_id, folder, api = managed
    base = f"/api/servers/{server_id}/processes/echo"
    first = wait_for(
        lambda: (s := state(api, server_id))["state"] == "running" and s,
        timeout=15,
        what="the autostarted process",
    )
    wait_for(lambda: "console ready" in lines(api, server_id), what="its first line")
    listed = api.get(f"/api/servers/{server_id}/processes").json()
    assert listed["connected"] and [p["name"] for p in listed["processes"]] == ["echo"]
    assert listed["processes"][0]["uptime_seconds"] >= 0
    r = api.post(f"{base}/input", json={"text": "hello fleet"})
    assert r.status_code == 200 and r.json()["state"] == "done", r.text
    wait_for(lambda: "echo: hello fleet" in lines(api, server_id), what="the echoed input")
    # the FIFO made before the process started, written by anyone on the host
    fifo = folder / "echo.stdin"
    assert fifo.is_fifo()
    with open(fifo, "w") as pipe:
        pipe.write("via fifo\n")
    wait_for(lambda: "echo: via fifo" in lines(api, server_id), what="the FIFO line")
    # the file queue: `timestamp:command`, each id once
    queue = folder / "echo_commands.txt"
    queue.write_text("1001:from file\n1001:from file\n")
    wait_for(lambda: "echo: from file" in lines(api, server_id), what="the queued line")
    time.sleep(0.5)
    assert lines(api, server_id).count("echo: from file") == 1
    # a crash (exit 3) is restarted (on-failure) with a new pid
    assert api.post(f"{base}/input", json={"text": "quit"}).status_code == 200
    again = wait_for(
        lambda: (s := state(api, server_id))["restarts"] >= 1 and s["state"] == "running" and s,
        timeout=15,
        what="the restart",
    )
    assert again["pid"] != first["pid"]
    # stop: stays stopped; input and a second stop are refused with the agent's reason
    r = api.post(f"{base}/stop")
    assert r.status_code == 200 and r.json()["state"] == "done", r.text
    assert state(api, server_id)["state"] == "stopped"
    refused = api.post(f"{base}/input", json={"text": "anyone?"})
    assert refused.status_code == 409 and "not running" in refused.json()["message"]
    assert api.post(f"{base}/stop").status_code == 409
    r = api.post(f"{base}/start")
    assert r.status_code == 200, r.text
    wait_for(lambda: state(api, server_id)["state"] == "running", what="the start")
    audit = api.get("/api/dashboard/audit", params={"q": "process"}).json()["entries"]
    assert {"process.input", "process.stop", "process.start"} <= {e["action"] for e in audit}


def test_wrong_requests_get_clear_answers(
    managed: tuple[RunningHub, str, Path, httpx.Client],
) -> None:
    _hub, server_id, _folder, api = managed
    wait_for(lambda: state(api, server_id)["state"] == "running", what="the process")
    base = f"/api/servers/{server_id}"
    answers = {
        "unknown process": api.post(f"{base}/processes/nope/start"),
        "unknown server": api.post("/api/servers/nope/processes/echo/start"),
        "unknown action": api.post(f"{base}/processes/echo/explode"),
        "no text": api.post(f"{base}/processes/echo/input", json={}),
        "nul": api.post(f"{base}/processes/echo/input", json={"text": "a\x00"}),
        "start running": api.post(f"{base}/processes/echo/start"),
    }
    codes = {k: v.status_code for k, v in answers.items()}
    assert codes == {
        "unknown process": 404,
        "unknown server": 404,
        "unknown action": 422,
        "no text": 422,
        "nul": 422,
        "start running": 409,
    }, codes
    assert "already running" in answers["start running"].json()["message"]
    assert os.path.exists(CONSOLE)


def test_a_scheduled_restart_warns_then_restarts_and_schedules_can_be_cancelled(
    managed: tuple[RunningHub, str, Path, httpx.Client],
) -> None:
    _hub, server_id, _folder, api = managed
    first = wait_for(
        lambda: (s := state(api, server_id))["state"] == "running" and s, what="the process"
    )
    at = time.time() + 3
    plan = {"at": at, "warnings": [2, 1], "message": "restart in {seconds} s"}
    r = api.post(f"/api/servers/{server_id}/processes/echo/scheduled-restart", json=plan)
    assert r.status_code == 201, r.text
    assert len(r.json()["schedules"]) == 3
    wait_for(
        lambda: {"echo: restart in 2 s", "echo: restart in 1 s"} <= set(lines(api, server_id)),
        timeout=10,
        what="the warnings on stdin",
    )
    again = wait_for(
        lambda: (s := state(api, server_id))["restarts"] > first["restarts"] and s,
        timeout=10,
        what="the scheduled restart",
    )
    assert again["pid"] != first["pid"]
    listed = api.get(f"/api/servers/{server_id}/schedules").json()["schedules"]
    assert {s["state"] for s in listed} == {"done"} and all(s["runs"] == 1 for s in listed)
    # a repeating schedule is listed until cancelled; bad ones are refused
    every = {"cron": "*/5 * * * *", "input": {"process": "echo", "text": "tick"}}
    made = api.post(f"/api/servers/{server_id}/schedules", json=every)
    assert made.status_code == 201 and made.json()["next_run"] > time.time(), made.text
    assert api.delete(f"/api/schedules/{made.json()['id']}").json()["cancelled"] == 1
    assert api.delete(f"/api/schedules/{made.json()['id']}").status_code == 409
    bad = {
        "cron": api.post(
            f"/api/servers/{server_id}/schedules",
            json={"cron": "61 * * * *", "input": {"process": "echo", "text": "x"}},
        ),
        "past": api.post(
            f"/api/servers/{server_id}/schedules",
            json={"at": time.time() - 60, "input": {"process": "echo", "text": "x"}},
        ),
        "two": api.post(
            f"/api/servers/{server_id}/schedules",
            json={
                "at": time.time() + 60,
                "cron": "* * * * *",
                "input": {"process": "echo", "text": "x"},
            },
        ),
    }
    assert {k: (v.status_code, v.json()["error"]["field"]) for k, v in bad.items()} == {
        "cron": (422, "cron"),
        "past": (422, "at"),
        "two": (422, None),
    }
