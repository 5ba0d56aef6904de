"""`fleetwatch agent serve` as a real process on a free loopback port, checked against /proc."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fleetwatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "fleetwatch.cli.main", *args]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Agent:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.url = proc, f"http://127.0.0.1:{port}"

    def json(self, path: str) -> Any:
        status, body = get(self.url + path)
        assert status == 200, body
        return json.loads(body)


def start_agent(tmp_path: Path, config: dict[str, Any]) -> Agent:
    config_path = tmp_path / "agent.json"
    config_path.write_text(json.dumps(config))
    port = free_port()
    listen = ["--listen", f"127.0.0.1:{port}", "--interval", "0.5"]
    proc = subprocess.Popen(
        fleetwatch("agent", "serve", *listen, "--config", str(config_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    agent = Agent(proc, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            get(agent.url + "/status/host")
            return agent
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("agent did not answer within 30 s")


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def agent(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> Iterator[Agent]:
    agent = start_agent(tmp_path, {"watched_processes": ["sleep"], "top_processes_count": 5})
    yield agent
    if agent.proc.poll() is None:
        agent.proc.kill()
    agent.proc.communicate()


def proc_net_dev() -> dict[str, list[int]]:
    rows = Path("/proc/net/dev").read_text().splitlines()[2:]
    return {
        name.strip(): [int(v) for v in rest.split()] for name, rest in (r.split(":") for r in rows)
    }


def test_tree_matches_the_system(agent: Agent, sleeper: subprocess.Popen[bytes]) -> None:
    assert agent.json("/status/host/hostname") == socket.gethostname()
    meminfo = Path("/proc/meminfo").read_text().split()
    assert agent.json("/status/memory/total_bytes") == int(meminfo[1]) * 1024
    assert set(agent.json("/status/network")) == set(proc_net_dev())
    for name, values in proc_net_dev().items():
        # receive errs is column 3, transmit drop column 12; they do not move on a quiet host
        assert agent.json(f"/status/network/{name}/errin") == values[2]
        assert agent.json(f"/status/network/{name}/dropout") == values[11]
    assert 0 <= agent.json("/status/disk/_/percent") <= 100
    assert agent.json("/status/process/sleep/alive") is True
    rss = agent.json(f"/status/process/sleep/{sleeper.pid}/memory_rss_bytes")
    assert rss > 0
    assert isinstance(agent.json("/status/cpu/percent"), float | int)


def test_unknown_path_is_a_404_naming_it(agent: Agent) -> None:
    status, body = get(agent.url + "/status/network/no-such-nic/errin")
    assert status == 404
    assert "network/no-such-nic/errin" in json.loads(body)["error"]["message"]


def test_metrics_parse_and_agree_with_the_tree(agent: Agent) -> None:
    status, body = get(agent.url + "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    total = families["fleetwatch_memory_total_bytes"].samples[0].value
    assert total == agent.json("/status/memory/total_bytes")
    lo = {s.labels["interface"]: s.value for s in families["fleetwatch_network_up"].samples}
    assert "lo" in lo
    cycles = families["fleetwatch_collection_cycles"].samples[0]
    assert cycles.name == "fleetwatch_collection_cycles_total"
    assert cycles.value >= 1


def test_collects_every_interval_and_stops_cleanly_on_sigterm(agent: Agent) -> None:
    first = agent.json("/status/collection/cycles")
    time.sleep(1.6)
    assert agent.json("/status/collection/cycles") >= first + 2
    agent.proc.send_signal(signal.SIGTERM)
    output, _ = agent.proc.communicate(timeout=20)
    assert agent.proc.returncode == 0
    assert "serving http://127.0.0.1:" in output
    assert "Traceback" not in output


def test_config_edits_are_picked_up(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    agent = start_agent(tmp_path, {})
    try:
        assert agent.json("/status/process") == {}
        (tmp_path / "agent.json").write_text(json.dumps({"watched_processes": ["sleep"]}))
        deadline = time.monotonic() + 15
        while agent.json("/status/process") == {} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert str(sleeper.pid) in agent.json("/status/process/sleep")
    finally:
        agent.proc.kill()
        agent.proc.communicate()


@pytest.mark.parametrize(
    ("args", "config", "code", "message"),
    [
        ([], {"status_listen": "0.0.0.0:9101"}, 2, "not a loopback address; pass --listen"),
        (["--listen", "nonsense"], {}, 2, "expected HOST:PORT"),
        ([], {"status_listen": 5}, 2, "status_listen: must be a string"),
        (["--interval", "0"], {}, 2, "must be between 0.1 and 3600"),
    ],
)
def test_bad_settings_exit_with_a_clear_message(
    tmp_path: Path, args: list[str], config: dict[str, Any], code: int, message: str
) -> None:
    config_path = tmp_path / "agent.json"
    config_path.write_text(json.dumps(config))
    result = subprocess.run(
        fleetwatch("agent", "serve", "--config", str(config_path), *args),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            fleetwatch("agent", "serve", "--listen", f"127.0.0.1:{port}"),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "FLEETWATCH_AGENT_CONFIG": str(tmp_path / "none.json")},
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
