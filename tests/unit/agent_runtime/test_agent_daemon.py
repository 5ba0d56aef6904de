"""The daemon in-process (real threads, real SQLite buffer, real HTTP to a scripted hub on
loopback; only the collector is a stand-in): enrolment, hub answers, reload, remote config."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agent_runtime_support import (
    ScriptedHub,
    StandInCollector,
    free_port,
    make_cert,
    wait_for,
    write_config,
)
from fleetwatch.agent import delivery
from fleetwatch.agent.budget import BudgetGovernor
from fleetwatch.agent.buffer import DurableBuffer
from fleetwatch.agent.daemon import AgentDaemon

FAST = {"collection_interval_seconds": 1, "retry_delay_seconds": 0.2, "log_file": "agent.log"}


@contextmanager
def running(config_path: Path) -> Iterator[AgentDaemon]:
    daemon = AgentDaemon(config_path, collector_factory=StandInCollector, to_stderr=False)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.request_stop("test over")
        thread.join(10)
        assert not thread.is_alive()


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def log_text(tmp_path: Path) -> str:
    return (tmp_path / "agent.log").read_text()


def test_fresh_agent_registers_saves_identity_and_delivers(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        cfg = write_config(tmp_path / "agent.json", dashboard_url=hub.url, **FAST)
        with running(cfg):
            wait_for(lambda: len(hub.state.snapshots) >= 2, what="two snapshots")
        saved = read(cfg)
        assert saved["server_id"] in hub.state.keys
        assert saved["api_key"] == hub.state.keys[saved["server_id"]]
        assert list(saved)[:2] == ["dashboard_url", "collection_interval_seconds"]
        assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
        assert len(hub.requests_to("/api/register")) == 1
        snap = hub.state.snapshots[0]
        assert snap["snapshot_id"] and snap["collected_at"]
        assert snap["agent"]["process_scan_every"] >= 1 and snap["agent"]["rss_bytes"] > 0
        assert "registered with" in log_text(tmp_path)
        assert "stopped after" in log_text(tmp_path)


def enrolled_config(tmp_path: Path, hub: ScriptedHub, **extra: Any) -> Path:
    hub.state.keys["srv-a"] = "key-a"
    values = {"dashboard_url": hub.url, "server_id": "srv-a", "api_key": "key-a", **FAST}
    return write_config(tmp_path / "agent.json", **{**values, **extra})


def prefill(tmp_path: Path, n: int) -> list[str]:
    buf = DurableBuffer(tmp_path / "agent-buffer.db", 10**9)
    ids = [f"old-{i:03d}" for i in range(n)]
    for sid in ids:
        buf.append(sid, json.dumps({"snapshot_id": sid, "metrics": {}}).encode())
    buf.close()
    return ids


def test_rejected_key_reregisters_only_on_401(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub)
        hub.script("/api/metrics", (500, {}, {"error": {"message": "boom"}}))
        with running(cfg):
            wait_for(lambda: len(hub.state.snapshots) >= 1, what="delivery after a 500")
            assert hub.requests_to("/api/register") == []  # a 500 is no reason to re-register
            hub.state.keys.clear()  # the hub forgot this agent: its key is now rejected
            wait_for(lambda: read(cfg)["server_id"] != "srv-a", what="new identity saved")
            count = len(hub.state.snapshots)
            wait_for(lambda: len(hub.state.snapshots) > count, what="delivery with the new key")
        assert len(hub.requests_to("/api/register")) == 1
        assert "rejected this agent's key for server srv-a" in log_text(tmp_path)


def test_413_splits_batches_and_keeps_order(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        hub.max_batch = 3
        old = prefill(tmp_path, 10)
        cfg = enrolled_config(tmp_path, hub)
        with running(cfg):
            wait_for(lambda: len(hub.state.snapshots) >= 12, what="backlog replayed")
        ids = hub.stored_ids()
        assert ids[:10] == old
        assert len(set(ids)) == len(ids)
        sizes = [len(r.body["snapshots"]) for r in hub.requests_to("/api/metrics")]
        assert sizes[0] >= 10  # the first try holds the whole backlog, refused with 413
        assert len([n for n in sizes if n > 3]) <= 3  # it learns: few refusals
        assert "splitting into batches of" in log_text(tmp_path)


def test_lone_refused_snapshot_is_dropped_not_blocking(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        prefill(tmp_path, 1)
        cfg = enrolled_config(tmp_path, hub)
        refused = (422, {}, {"error": {"message": "metrics: field required"}})
        hub.script("/api/metrics", refused, refused)
        with running(cfg):
            wait_for(lambda: len(hub.state.snapshots) >= 1, what="delivery after a refusal")
        assert "dropped, the hub refuses it" in log_text(tmp_path)


def test_429_waits_for_retry_after(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub)
        hub.script("/api/metrics", (429, {"Retry-After": "2"}, {"error": {"message": "slow"}}))
        started = time.monotonic()
        with running(cfg):
            wait_for(lambda: len(hub.state.snapshots) >= 1, what="delivery after 429")
            assert time.monotonic() - started >= 2.0
            assert len(hub.requests_to("/api/metrics")) == 2
        assert "waiting 2.0 s as told" in log_text(tmp_path)


def test_5xx_backs_off_exponentially(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub, retry_delay_seconds=0.4)
        err = (503, {}, {"error": {"message": "down"}})
        hub.script("/api/metrics", err, err, err, err)
        with running(cfg):
            wait_for(lambda: len(hub.state.snapshots) >= 1, timeout=15, what="delivery")
        times = [r for r in hub.requests if r.path == "/api/metrics"]
        assert len(times) >= 5
        assert hub.requests_to("/api/register") == []
        logged = log_text(tmp_path)
        assert "retry 4 in" in logged and "kept in the buffer" in logged


def test_hub_that_answers_pings_but_refuses_snapshots_is_paced_by_the_backoff(
    tmp_path: Path,
) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub, retry_delay_seconds=10)
        err = (503, {}, {"error": {"message": "store unavailable"}})
        hub.script("/api/metrics", *[err] * 50)
        with running(cfg):
            wait_for(lambda: hub.requests_to("/api/metrics"), what="a first attempt")
            time.sleep(8)
            attempts = len(hub.requests_to("/api/metrics"))
        # GET /api/ping says "up" each second, but after one such false hope the backoff
        # (2.5-5 s, capped while snapshots wait) paces the attempts: not one per probe
        assert 2 <= attempts <= 5, attempts
        probes = [r for r in hub.requests_to("/api/ping") if r.method == "GET"]
        assert 1 <= len(probes) <= 3
        assert "retry 2 in" in log_text(tmp_path)


def test_refused_then_hub_appears_everything_arrives_once_in_order(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(
        tmp_path / "agent.json",
        dashboard_url=f"http://127.0.0.1:{port}",
        server_id="srv-a",
        api_key="key-a",
        **FAST,
    )
    with running(cfg) as daemon:
        wait_for(lambda: daemon.state.cycles >= 3, what="three cycles while the hub is away")
        assert len(daemon.buffer) >= 3
        with ScriptedHub(port=port) as hub:
            hub.state.keys["srv-a"] = "key-a"
            wait_for(lambda: len(hub.state.snapshots) >= 5, timeout=15, what="replay")
            seqs = [s["seq"] for s in hub.state.snapshots]
            daemon.request_stop()
    assert seqs == list(range(1, len(seqs) + 1))
    assert "connection refused" in log_text(tmp_path)


def test_tls_failure_keeps_buffering_until_verify_ssl_is_turned_off(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    with ScriptedHub(cert, key) as hub:
        cfg = enrolled_config(tmp_path, hub)
        with running(cfg) as daemon:
            wait_for(lambda: daemon.state.cycles >= 2, what="cycles")
            assert hub.state.snapshots == []
            wait_for(lambda: "TLS failure" in log_text(tmp_path), what="TLS failure logged")
            write_config(cfg, **{**read(cfg), "verify_ssl": False})
            wait_for(lambda: len(hub.state.snapshots) >= 2, timeout=15, what="delivery")
        assert [s["seq"] for s in hub.state.snapshots][:2] == [1, 2]


def test_interval_edit_applies_without_restart_and_broken_edit_is_ignored(
    tmp_path: Path,
) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub)
        with running(cfg) as daemon:
            wait_for(lambda: daemon.state.cycles >= 2, what="cycles at 1 s")
            write_config(cfg, **{**read(cfg), "collection_interval_seconds": 3})
            wait_for(lambda: daemon.state.config["collection_interval_seconds"] == 3, what="reload")
            cfg.write_text('{"collection_interval_seconds": "often"')
            time.sleep(2.5)
            mark = daemon.state.cycles
            time.sleep(6.2)
            assert 2 <= daemon.state.cycles - mark <= 3
            assert daemon.state.config["collection_interval_seconds"] == 3
        logged = log_text(tmp_path)
        assert "collection_interval_seconds: 1 -> 3" in logged
        assert logged.count("config edit ignored") == 1


def test_remote_config_is_applied_persisted_and_confirmed(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub)
        hub.state.pending_config = {"top_processes_count": 3, "live_interval_seconds": 5}
        with running(cfg) as daemon:
            wait_for(lambda: hub.state.confirms, what="confirmation")
            wait_for(lambda: daemon.state.config["top_processes_count"] == 3, what="applied")
            assert hub.state.confirms[0] == {"config_id": 7, "applied": True, "error": None}
            hub.state.pending_config = {"server_id": "evil"}
            wait_for(lambda: len(hub.state.confirms) == 2, timeout=20, what="rejection")
        assert read(cfg)["top_processes_count"] == 3
        assert read(cfg)["server_id"] == "srv-a"
        rejected = hub.state.confirms[1]
        assert rejected["applied"] is False and "server_id" in rejected["error"]


def test_live_samples_flow_and_their_failure_does_not_delay_snapshots(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub, live_enabled=True, live_interval_seconds=1)
        hub.script("/api/metrics/live", *[(500, {}, {"error": {"message": "x"}})] * 2)
        with running(cfg):
            wait_for(lambda: len(hub.state.live) >= 1, timeout=15, what="a live sample")
            wait_for(lambda: len(hub.state.snapshots) >= 3, what="snapshots")
        assert "live samples are not buffered" in log_text(tmp_path)


def test_full_buffer_drops_oldest_and_logs(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "agent.json",
        dashboard_url=f"http://127.0.0.1:{free_port()}",
        server_id="a",
        api_key="b",
        buffer_max_bytes=300,
        **FAST,
    )
    with running(cfg) as daemon:
        wait_for(lambda: daemon.buffer.dropped_total >= 1, what="a drop")
    assert "buffer full (300 bytes): dropped the" in log_text(tmp_path)


def test_stop_is_prompt_flushes_and_counts_cycles(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub)
        daemon = AgentDaemon(cfg, collector_factory=StandInCollector, to_stderr=False)
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        wait_for(lambda: daemon.state.cycles >= 2, what="cycles")
        started = time.monotonic()
        daemon.request_stop("received SIGTERM")
        thread.join(6)
        assert time.monotonic() - started < 5
        n = daemon.state.cycles
        assert len(hub.state.snapshots) == n  # the last cycle was flushed before exit
    assert f"stopped after {n} cycles" in log_text(tmp_path)
    assert os.path.exists(tmp_path / "agent-buffer.db")


def test_heartbeat_between_cycles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "HEARTBEAT_SECONDS", 0.5)
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub, collection_interval_seconds=3)

        def order() -> list[str]:
            return [r.path for r in hub.requests if r.path in ("/api/metrics", "/api/ping")]

        def pinged_after_a_snapshot() -> bool:
            seen = order()
            return "/api/metrics" in seen and "/api/ping" in seen[seen.index("/api/metrics") :]

        with running(cfg):
            wait_for(pinged_after_a_snapshot, timeout=15, what="a heartbeat after a snapshot")
        seen = order()
        first = seen.index("/api/metrics")
        # between two snapshots 3 s apart, heartbeats every 0.5 s
        assert seen[first + 1] == "/api/ping"


def test_over_cpu_budget_postpones_the_process_scan(tmp_path: Path) -> None:
    clock = {"now": 0.0, "cpu": 0.0}

    def sampler() -> tuple[float, int]:
        clock["now"] += 1.0
        clock["cpu"] += 0.5  # half a core, whatever the real figure
        return clock["cpu"], 30 * 1024 * 1024

    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub, budget_cpu_percent=5.0)
        daemon = AgentDaemon(cfg, collector_factory=StandInCollector, to_stderr=False)
        daemon.governor = BudgetGovernor(sampler, lambda: clock["now"])
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        try:
            wait_for(lambda: len(hub.state.snapshots) >= 5, timeout=15, what="snapshots")
        finally:
            daemon.request_stop()
            thread.join(10)
        collector = daemon.collector
        assert isinstance(collector, StandInCollector)
        assert False in collector.scans
        last = hub.state.snapshots[-1]["agent"]
        assert last["over_budget"] is True and last["process_scan_every"] >= 2
        assert last["cpu_percent"] == pytest.approx(50.0, abs=1)
    assert "over the budget of 5%" in log_text(tmp_path)


def test_status_listen_serves_the_daemons_snapshots(tmp_path: Path) -> None:
    port = free_port()
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub, status_listen=f"127.0.0.1:{port}")
        with running(cfg):
            wait_for(lambda: hub.state.snapshots, what="a snapshot")

            def served() -> bool:
                try:
                    url = f"http://127.0.0.1:{port}/status/agent/process_scan_every"
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        return bool(resp.read().strip() == b"1")
                except OSError:
                    return False

            wait_for(served, what="the local status endpoint")


def test_bad_hub_url_edit_is_ignored_not_fatal(tmp_path: Path) -> None:
    with ScriptedHub() as hub:
        cfg = enrolled_config(tmp_path, hub)
        with running(cfg) as daemon:
            wait_for(lambda: hub.state.snapshots, what="a snapshot")
            write_config(cfg, **{**read(cfg), "dashboard_url": "hub-without-scheme"})
            count = len(hub.state.snapshots)
            wait_for(lambda: len(hub.state.snapshots) >= count + 3, what="delivery goes on")
            assert daemon.state.config["dashboard_url"] == hub.url
        assert "config edit ignored" in log_text(tmp_path)
        assert "dashboard_url: must be an http" in log_text(tmp_path)
