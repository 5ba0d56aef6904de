"""A13 end to end: real agent processes hold their control channel to a real hub; a command
runs only where the host opted in and its program is allowed, its output and exit code come
back, timeouts kill it, output is capped, a restart mid-command never runs it twice, and every
refusal is a clear 4xx. `fleetwatch cmd` prints the output and exits with the command's code."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from agent_runtime_support import AgentProcess, wait_for
from controlhelp import FLEETWATCH, RUN_AS, connected, finished, start_agent, user_token
from hubtest import RunningHub, admin_token, running_hub

pytestmark = pytest.mark.e2e
ALLOW = ["echo", "sleep", sys.executable]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[RunningHub, dict[str, str], list[AgentProcess]]]:
    with running_hub(
        tmp_path, None, "--ingest-workers", "1", FLEETWATCH_RATE_LIMIT_PER_MINUTE="0"
    ) as hub:
        agents: list[AgentProcess] = []
        try:
            opted, opted_id = start_agent(
                hub,
                tmp_path / "opted",
                commands={"allow": ALLOW, "max_output_bytes": 65536, "user": RUN_AS},
            )
            plain, plain_id = start_agent(hub, tmp_path / "plain")
            agents += [opted, plain]
            yield hub, {"opted": opted_id, "plain": plain_id}, agents
        finally:
            for agent in agents:
                agent.close()


def test_commands_run_only_where_allowed_and_report_back(
    fleet: tuple[RunningHub, dict[str, str], list[AgentProcess]], tmp_path: Path
) -> None:
    hub, ids, _agents = fleet
    admin = {"Authorization": f"Bearer {admin_token(hub)}"}
    operator = {"Authorization": f"Bearer {user_token(hub, 'opal', 'operator')}"}
    viewer = {"Authorization": f"Bearer {user_token(hub, 'vic', 'viewer')}"}
    with httpx.Client(base_url=hub.base_url, headers=operator, timeout=10) as api:
        hello = connected(api, ids["opted"])["hello"]
        assert hello["commands"] == {"enabled": True, "shell": False, "allow": ALLOW}
        assert connected(api, ids["plain"])["hello"]["commands"]["enabled"] is False
        run = f"/api/servers/{ids['opted']}/commands"
        r = api.post(run, json={"argv": ["echo", "hello", "fleet"], "env": {"A": "1"}})
        assert r.status_code == 201, r.text
        done = finished(api, r.json()["id"])
        assert (done["state"], done["exit_code"], done["output"]) == ("exited", 0, "hello fleet\n")
        assert done["requested_by"] == "opal" and done["output_bytes"] == 12
        # refusals: each a clear 4xx, nothing run
        answers = {
            "not allowed": api.post(run, json={"argv": ["rm", "-rf", str(tmp_path)]}),
            "not opted in": api.post(
                f"/api/servers/{ids['plain']}/commands", json={"argv": ["echo", "x"]}
            ),
            "shell by operator": api.post(run, json={"shell": "echo x"}),
            "shell off on host": api.post(run, json={"shell": "echo x"}, headers=admin),
            "unknown server": api.post("/api/servers/nope/commands", json={"argv": ["echo"]}),
            "viewer": api.post(run, json={"argv": ["echo"]}, headers=viewer),
            "both": api.post(run, json={"argv": ["echo"], "shell": "echo"}),
            "empty argv": api.post(run, json={"argv": []}),
            "bad env": api.post(run, json={"argv": ["echo"], "env": {"A=B": "x"}}),
            "nul": api.post(run, json={"argv": ["echo", "a\x00b"]}),
        }
        codes = {k: (v.status_code, v.json()["error"]["code"]) for k, v in answers.items()}
        assert codes == {
            "not allowed": (403, "not_allowed"),
            "not opted in": (403, "not_opted_in"),
            "shell by operator": (403, "forbidden"),
            "shell off on host": (403, "shell_not_allowed"),
            "unknown server": (404, "not_found"),
            "viewer": (403, "forbidden"),
            "both": (422, "invalid"),
            "empty argv": (422, "invalid"),
            "bad env": (422, "invalid"),
            "nul": (422, "invalid"),
        }, codes
        assert tmp_path.exists()
        # a timeout kills the process group; output beyond the host's cap is dropped
        slow = api.post(run, json={"argv": ["sleep", "30"], "timeout_seconds": 1}).json()
        loud = api.post(run, json={"argv": [sys.executable, "-c", "print('x' * 200000)"]}).json()
        started = time.monotonic()
        slow_done = finished(api, slow["id"])
        assert slow_done["state"] == "timeout" and time.monotonic() - started < 8
        loud_done = finished(api, loud["id"])
        assert loud_done["state"] == "exited" and loud_done["truncated"] is True
        assert loud_done["output_bytes"] == 200001 and len(loud_done["output"]) == 65536
        history = api.get(f"/api/servers/{ids['opted']}/commands").json()["commands"]
        assert {c["id"] for c in history} >= {done["id"], slow["id"], loud["id"]}
        audit = api.get("/api/dashboard/audit", params={"q": "command"}, headers=admin).json()
        actions = {(e["actor"], e["action"]) for e in audit["entries"]}
        assert ("opal", "command.run") in actions and ("opal", "command.exit") in actions
    # the CLI: output on stdout, the command's exit code as its own
    env = {**os.environ, "FLEETWATCH_TOKEN": operator["Authorization"][7:]}
    cli = subprocess.run(
        [
            *FLEETWATCH,
            "cmd",
            ids["opted"],
            "--url",
            hub.base_url,
            "--",
            sys.executable,
            "-c",
            "print('from cli'); raise SystemExit(3)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert (cli.returncode, cli.stdout) == (3, "from cli\n"), cli.stderr


def test_offline_agents_get_409_and_a_restart_never_runs_a_command_twice(
    fleet: tuple[RunningHub, dict[str, str], list[AgentProcess]], tmp_path: Path
) -> None:
    hub, ids, agents = fleet
    marker = tmp_path / "runs.txt"
    admin = {"Authorization": f"Bearer {admin_token(hub)}"}
    with httpx.Client(base_url=hub.base_url, headers=admin, timeout=10) as api:
        connected(api, ids["opted"])
        run = f"/api/servers/{ids['opted']}/commands"
        script = f"open({str(marker)!r}, 'a').write('ran\\n'); import time; time.sleep(30)"
        long = api.post(run, json={"argv": [sys.executable, "-c", script]}).json()
        wait_for(lambda: marker.exists(), timeout=15, what="the command to start")
        agents[0].kill()  # SIGKILL: no goodbye
        gone = wait_for(
            lambda: (
                api.get(f"/api/servers/{ids['opted']}/control").json()["connected"] is False or None
            ),
            timeout=15,
            what="the channel to drop",
        )
        assert gone
        r = api.post(run, json={"argv": ["echo", "late"]})
        assert r.status_code == 409 and r.json()["error"]["code"] == "agent_offline", r.text
        assert api.get(f"/api/commands/{long['id']}").json()["state"] == "running"
        agents[0] = AgentProcess(agents[0].config)  # the same host comes back
        connected(api, ids["opted"])
        done = finished(api, long["id"])
        assert done["state"] == "interrupted", done
        time.sleep(1)
        assert marker.read_text() == "ran\n", "a command id is executed at most once"


def test_config_pushes_and_live_demand_arrive_over_the_channel_at_once(
    fleet: tuple[RunningHub, dict[str, str], list[AgentProcess]],
) -> None:
    hub, ids, _agents = fleet
    admin = {"Authorization": f"Bearer {admin_token(hub)}"}
    server = ids["plain"]  # 30 s snapshots, 30 s heartbeat: only the channel is this quick
    with httpx.Client(base_url=hub.base_url, headers=admin, timeout=10) as api:
        connected(api, server)
        time.sleep(2)  # past the agent's first cycle and its config poll
        r = api.post(f"/api/dashboard/server/{server}/config", json={"top_processes_count": 7})
        assert r.status_code == 201 and "control channel" in r.json()["message"], r.text
        started = time.monotonic()

        def applied() -> bool:
            view = api.get(f"/api/dashboard/server/{server}/config").json()
            return bool(view["history"][0]["status"] == "applied")

        wait_for(applied, timeout=8, what="the pushed config to be applied")
        assert time.monotonic() - started < 8
        r = api.post(f"/api/dashboard/server/{server}/live/watch", params={"seconds": 10})
        assert r.status_code == 200, r.text
        started = time.monotonic()

        def live_rows() -> int:
            got = api.get(f"/api/dashboard/server/{server}/live").json()
            return len(got.get("samples") or [])

        wait_for(lambda: live_rows() >= 2, timeout=8, what="live samples after the watch")
        assert time.monotonic() - started < 8


def test_command_output_streams_live_over_ws(
    fleet: tuple[RunningHub, dict[str, str], list[AgentProcess]],
) -> None:
    hub, ids, _agents = fleet
    operator = user_token(hub, "olga", "operator")
    viewer = user_token(hub, "val", "viewer")
    ws_url = hub.base_url.replace("http://", "ws://") + "/ws"
    script = (
        "import time\nfor i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.4)"
    )
    with httpx.Client(base_url=hub.base_url, timeout=10) as api:
        api.headers["Authorization"] = f"Bearer {operator}"
        connected(api, ids["opted"])
        r = api.post(
            f"/api/servers/{ids['opted']}/commands", json={"argv": [sys.executable, "-c", script]}
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
    with connect(f"{ws_url}?token={operator}") as ws:

        def next_of(*kinds: str) -> dict[str, object]:
            while True:
                message = orjson.loads(ws.recv(timeout=15))
                if message["type"] in kinds:
                    return dict(message)

        ws.send(orjson.dumps({"type": "unsubscribe"}).decode())
        next_of("unsubscribed")
        ws.send(orjson.dumps({"type": "watch_command", "id": cid}).decode())
        assert next_of("watching", "error") == {"type": "watching", "id": cid}
        chunks: list[dict[str, object]] = []
        while (message := next_of("command_output", "command_exit"))["type"] == "command_output":
            chunks.append(message)
        seqs = [c["seq"] for c in chunks]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] == 1
        assert "".join(str(c["data"]) for c in chunks) == "tick 0\ntick 1\ntick 2\n"
        assert (message["id"], message["state"], message["exit_code"]) == (cid, "exited", 0)
        ws.send(orjson.dumps({"type": "watch_command", "id": "no-such-command"}).decode())
        assert next_of("error", "watching")["code"] == "not_found"
    with connect(f"{ws_url}?token={viewer}") as ws:
        ws.send(orjson.dumps({"type": "watch_command", "id": cid}).decode())
        while (message := orjson.loads(ws.recv(timeout=15)))["type"] != "error":
            pass
        assert message["code"] == "forbidden"
