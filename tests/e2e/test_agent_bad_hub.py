"""A real agent process against a hub that answers badly (a scripted HTTP(S) server on
loopback): each answer leads to the right behaviour and never to a crash loop."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runtime_support import (
    AgentProcess,
    ScriptedHub,
    free_port,
    make_cert,
    wait_for,
    write_config,
)
from fleetwatch import applog

pytestmark = pytest.mark.e2e

FAST = {"collection_interval_seconds": 1, "retry_delay_seconds": 0.3, "log_file": "agent.log"}


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.close()


def enrolled(tmp_path: Path, hub: ScriptedHub, **extra: object) -> Path:
    hub.state.keys["srv-a"] = "key-a"
    values = {"dashboard_url": hub.url, "server_id": "srv-a", "api_key": "key-a", **FAST}
    return write_config(tmp_path / "agent.json", **{**values, **extra})


def stop(agent: AgentProcess) -> str:
    assert agent.terminate() == 0
    out = agent.output()
    assert "Traceback" not in out
    return out


def assert_ordered_once(hub: ScriptedHub) -> None:
    ids = hub.stored_ids()
    assert len(ids) == len(set(ids)) and hub.state.duplicates == 0
    stamps = [s["collected_at"] for s in hub.state.snapshots]
    assert stamps == sorted(stamps)


def test_each_bad_answer_gets_its_treatment(tmp_path: Path, agents: list[AgentProcess]) -> None:
    with ScriptedHub() as hub:
        hub.max_batch = 2
        config = enrolled(tmp_path, hub)
        err = {"error": {"message": "scripted"}}
        hub.script(
            "/api/metrics",
            (500, {}, err),
            (503, {}, err),
            (429, {"Retry-After": "2"}, err),
        )
        agents.append(agent := AgentProcess(config))
        wait_for(lambda: len(hub.state.snapshots) >= 4, timeout=30, what="delivery")
        assert hub.requests_to("/api/register") == []  # 5xx/429/413 never re-register
        metrics = hub.requests_to("/api/metrics")
        assert any(len(r.body["snapshots"]) > 2 for r in metrics)  # refused with 413, split
        hub.state.keys.clear()  # now the key is rejected: 401
        wait_for(lambda: json.loads(config.read_text())["server_id"] != "srv-a", what="re-enrol")
        count = len(hub.state.snapshots)
        wait_for(lambda: len(hub.state.snapshots) >= count + 2, what="delivery with the new key")
        out = stop(agent)
    assert len(hub.requests_to("/api/register")) == 1
    assert "hub answered 500" in out and "hub answered 503" in out
    assert "waiting 2.0 s as told" in out
    assert "splitting into batches" in out
    assert "rejected this agent's key for server srv-a" in out
    assert_ordered_once(hub)


def test_refused_connection_buffers_then_delivers(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    port = free_port()  # nobody listens there yet
    config = write_config(
        tmp_path / "agent.json",
        dashboard_url=f"http://127.0.0.1:{port}",
        server_id="srv-a",
        api_key="key-a",
        **FAST,
    )
    agents.append(agent := AgentProcess(config))
    wait_for(lambda: "connection refused" in agent.output(), timeout=15, what="refusals")
    time.sleep(2)
    with ScriptedHub(port=port) as hub:
        hub.state.keys["srv-a"] = "key-a"
        wait_for(lambda: len(hub.state.snapshots) >= 4, timeout=20, what="replay")
        out = stop(agent)
        assert_ordered_once(hub)
    assert out.count("stopped after") == 1


def test_tls_failure_backs_off_and_keeps_buffering(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    cert, key = make_cert(tmp_path)
    with ScriptedHub(cert, key) as hub:
        config = enrolled(tmp_path, hub)
        agents.append(agent := AgentProcess(config))
        wait_for(lambda: agent.output().count("TLS failure") >= 2, timeout=20, what="retries")
        assert hub.state.snapshots == []
        assert agent.process.poll() is None  # no crash, no exit
        out = stop(agent)
    assert "CERTIFICATE_VERIFY_FAILED" in out
    assert "kept in the buffer" in out


def test_stop_takes_under_five_seconds_with_a_hung_hub(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    with ScriptedHub() as hub:
        config = write_config(
            tmp_path / "agent.json",
            dashboard_url=hub.url,
            logs={"applog_dir": str(apps), "interval_seconds": 0.2},
            **FAST,
        )
        agents.append(agent := AgentProcess(config))
        wait_for(lambda: hub.state.snapshots, timeout=15, what="a first snapshot")
        hub.metrics_delay = hub.logs_delay = 8.0  # every delivery now hangs
        with applog.open("hung", apps, app="hung") as app_log:
            for i in range(50):
                app_log.info(f"line {i}")
        time.sleep(2.5)  # a snapshot and a log batch are in flight, both hung
        started = time.monotonic()
        out = stop(agent)
        took = time.monotonic() - started
    print(f"stop took {took:.2f} s")
    assert took < 5.0, (took, out[-2000:])
    assert "kept in the buffer" in out
