"""A real agent process after a hub outage (issue 26 item 8): the backlog reaches the hub within
seconds of its return, fresh snapshots are not held behind a long backlog, and a SIGTERM while
the agent backs off still delivers the buffer to a hub that answers again."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_runtime_support import (
    AgentProcess,
    HubProcess,
    ScriptedHub,
    buffered_ids,
    free_port,
    wait_for,
    write_config,
)
from fleetwatch.agent.buffer import DurableBuffer

pytestmark = pytest.mark.e2e


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.close()


def stopped_cleanly(agent: AgentProcess) -> str:
    assert agent.terminate() == 0
    out = agent.output()
    assert "Traceback" not in out
    return out


@pytest.mark.slow
def test_10s_outage_everything_stored_within_5s_of_the_hubs_return(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    hub = HubProcess(tmp_path / "hub", free_port()).start()
    try:
        # the default retry_delay_seconds (10): before the fix, two refusals made it 18 s
        config = write_config(
            tmp_path / "agent.json",
            dashboard_url=hub.url,
            collection_interval_seconds=1,
            log_file="agent.log",
        )
        agents.append(agent := AgentProcess(config))
        server_id = wait_for(
            lambda: json.loads(config.read_text()).get("server_id"), what="registration"
        )
        wait_for(lambda: len(hub.snapshots(server_id)) >= 3, what="first snapshots")
        hub.stop()
        time.sleep(10)
        hub.start()  # returns once GET /api/ping answers
        back = time.monotonic()
        waiting = set(buffered_ids(tmp_path / "agent-buffer.db"))
        assert len(waiting) >= 8  # the outage's snapshots
        wait_for(
            lambda: waiting <= {r[2] for r in hub.snapshots(server_id)},
            timeout=5,
            what="every buffered snapshot stored",
        )
        assert time.monotonic() - back < 5
        out = stopped_cleanly(agent)
        rows = hub.snapshots(server_id)
        assert len(rows) == len({r[2] for r in rows})  # exactly once
        assert [r[1] for r in rows] == sorted(r[1] for r in rows)  # in order
        assert "the hub answers again" in out
    finally:
        hub.stop()


def test_sigterm_while_backing_off_delivers_the_buffer_to_a_hub_that_is_back(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    with ScriptedHub() as hub:
        hub.state.keys["srv-a"] = "key-a"
        config = write_config(
            tmp_path / "agent.json",
            dashboard_url=hub.url,
            server_id="srv-a",
            api_key="key-a",
            collection_interval_seconds=1,
            log_file="agent.log",
        )
        hub.down = True  # 503 to everything, GET /api/ping included
        agents.append(agent := AgentProcess(config))
        wait_for(lambda: agent.output().count("kept in the buffer") >= 2, timeout=20, what="503s")
        wait_for(lambda: len(buffered_ids(tmp_path / "agent-buffer.db")) >= 3, what="a backlog")
        hub.down = False
        agent.process.send_signal(signal.SIGTERM)  # the agent is still waiting out its backoff
        started = time.monotonic()
        assert agent.process.wait(10) == 0
        assert time.monotonic() - started < 5
        out = stopped_cleanly(agent)
        assert buffered_ids(tmp_path / "agent-buffer.db") == []
        delivered = hub.stored_ids()
        assert len(delivered) == len(set(delivered)) >= 3
        assert "0 kept in the buffer" in out
        # delivered by the last attempt on stop, not by a retry before it
        assert out.index("received SIGTERM") < out.index("the hub answers again")


def test_long_backlog_drains_in_batches_and_fresh_snapshots_still_arrive(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    buffer = DurableBuffer(tmp_path / "agent-buffer.db", 10**9)
    backlog = [f"old-{i:04d}" for i in range(1600)]
    for sid in backlog:
        body = {"snapshot_id": sid, "collected_at": "2026-01-01T00:00:00+00:00", "metrics": {}}
        buffer.append(sid, json.dumps(body).encode())
    buffer.close()
    with ScriptedHub() as hub:
        hub.state.keys["srv-a"] = "key-a"
        hub.metrics_delay = 0.6  # a slow hub: 8 batches of 200 take about 5 s
        config = write_config(
            tmp_path / "agent.json",
            dashboard_url=hub.url,
            server_id="srv-a",
            api_key="key-a",
            collection_interval_seconds=1,
            log_file="agent.log",
        )
        agents.append(agent := AgentProcess(config))
        wait_for(lambda: set(backlog) <= set(hub.stored_ids()), timeout=40, what="backlog replayed")
        stopped_cleanly(agent)
        stored = hub.stored_ids()
    assert len(stored) == len(set(stored))
    assert [s for s in stored if s.startswith("old-")] == backlog  # the backlog in order
    last_old = stored.index(backlog[-1])
    fresh_early = [s for s in stored[:last_old] if not s.startswith("old-")]
    assert fresh_early, "fresh snapshots waited for the whole backlog"
    sizes = [len(r.body["snapshots"]) for r in hub.requests_to("/api/metrics")]
    assert max(sizes) <= 200
