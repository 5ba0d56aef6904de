"""Ingest workers (`hub/dispatch/`): agents' connections served by worker processes on the
hub's one port; the dashboard stays in the hub process; workers come and go with the hub."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest

from factories import make_snapshot
from fleetwatch.hub.dispatch.pool import ADVERTISE_SECONDS
from fleetwatch.hub.dispatch.relay import RECENT_SECONDS
from hubtest import RunningHub, admin_token, bearer, running_hub, start_hub, wait_for_alerts

pytestmark = pytest.mark.e2e


def workers_of(hub: RunningHub, count: int, timeout: float = 20) -> list[psutil.Process]:
    """The hub's ingest worker processes, once `count` of them run."""
    deadline = time.monotonic() + timeout
    while True:
        children = [
            p
            for p in psutil.Process(hub.process.pid).children()
            if "fleetwatch.hub.dispatch.worker" in " ".join(p.cmdline())
        ]
        if len(children) == count or time.monotonic() > deadline:
            assert len(children) == count, hub.log()
            return children
        time.sleep(0.1)


def holder_of(hub: RunningHub, client_port: int) -> int:
    """The pid of the hub process (hub or worker) holding our connection from `client_port`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for proc in [psutil.Process(hub.process.pid), *workers_of(hub, 2)]:
            for conn in proc.net_connections(kind="tcp"):
                if conn.raddr and conn.raddr.port == client_port:
                    return proc.pid
        time.sleep(0.1)
    raise AssertionError(f"no hub process holds the connection from port {client_port}")


def local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    port: int = stream.get_extra_info("client_addr")[1]
    return port


def snapshot(i: int, cpu: float = 12.0) -> dict[str, object]:
    return make_snapshot(
        snapshot_id=f"s-{i}-{time.time_ns()}",
        collected_at=datetime.now(UTC).isoformat(),
        metrics={"cpu_percent": cpu},
    )


def test_agents_are_served_by_workers_and_the_dashboard_by_the_hub(tmp_path: Path) -> None:
    with running_hub(tmp_path, None, "--ingest-workers", "2") as hub:
        workers = {p.pid for p in workers_of(hub, 2)}
        reg = httpx.post(f"{hub.base_url}/api/register", json={"hostname": "w1"}).json()
        auth = bearer(reg["server_id"], reg["api_key"])
        with httpx.Client(base_url=hub.base_url, timeout=10) as agent:
            first = agent.post("/api/metrics", json=snapshot(0), headers=auth)
            assert first.status_code == 200, first.text
            assert first.json()["stored"] == 1
            assert holder_of(hub, local_port(first)) in workers
            # the same keep-alive connection: the worker answers agents and the API...
            for i in range(1, 4):
                r = agent.post("/api/metrics", json=snapshot(i), headers=auth)
                assert r.json() == {"status": "ok", "stored": 1, "duplicates": 0}
            again = agent.post("/api/metrics", json={"metrics": "x"}, headers=auth)
            assert again.status_code == 422 and again.json()["error"]["field"]
            assert agent.get("/api/dashboard").status_code == 401  # the API's own answer
            # ... and sends a dashboard page to a new connection (to the hub process)
            page = agent.get("/login?next=%2F", follow_redirects=False)
            assert page.status_code == 307, page.text
            assert page.headers["location"] == "/login?next=%2F"
            assert page.headers["connection"] == "close"
        with httpx.Client(base_url=hub.base_url, timeout=10) as browser:
            login = browser.get("/login?next=%2F")
            assert login.status_code == 200 and "fleetwatch" in login.text.lower()
            assert holder_of(hub, local_port(login)) == hub.process.pid
        token = admin_token(hub)
        detail = httpx.get(
            f"{hub.base_url}/api/dashboard/server/{reg['server_id']}",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert detail["server"]["hostname"] == "w1"


def test_alerts_fire_and_resolve_for_snapshots_the_workers_stored(tmp_path: Path) -> None:
    """The workers relay only what the engine can act on (`dispatch/relay.py`): healthy
    snapshots go without readings, a breach with them, and once its server has an alert every
    snapshot of it does, whichever worker takes it, so the recovery resolves the alert."""
    env = {"FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0"}
    with running_hub(tmp_path, None, "--ingest-workers", "2", **env) as hub:
        workers_of(hub, 2)
        agents = []
        for i in range(6):
            reg = httpx.post(f"{hub.base_url}/api/register", json={"hostname": f"hot-{i}"}).json()
            agents.append((reg["server_id"], bearer(reg["server_id"], reg["api_key"])))
        time.sleep(2 * ADVERTISE_SECONDS)  # the workers know the filter now

        def send_all(cpu: float) -> None:
            for i, (_server_id, auth) in enumerate(agents):  # a connection each: both workers
                with httpx.Client(base_url=hub.base_url, timeout=10) as agent:
                    body = {**snapshot(i, cpu=cpu), "services": [], "watched_processes": {}}
                    r = agent.post("/api/metrics", json=body, headers=auth)
                    assert r.status_code == 200, r.text

        hosts = {server_id for server_id, _ in agents}
        send_all(12.0)
        time.sleep(1.0)
        wait_for_alerts(hub, "cpu_percent", set(), timeout=0.5)  # nothing fired
        send_all(99.0)
        wait_for_alerts(hub, "cpu_percent", hosts)
        # past the time a worker relays a server in full on its own after a breach: from now
        # on only the hub's word (these servers have alerts) gets their recovery relayed
        time.sleep(RECENT_SECONDS + 2 * ADVERTISE_SECONDS)
        send_all(12.0)
        wait_for_alerts(hub, "cpu_percent", set())  # every recovery reached the engine
        assert hub.log().count("leader: True") == 1  # the hub process, never a worker


def test_a_killed_worker_is_replaced_and_nothing_is_refused_meanwhile(tmp_path: Path) -> None:
    env = {"FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0"}
    with running_hub(tmp_path, None, "--ingest-workers", "2", **env) as hub:
        victim, survivor = workers_of(hub, 2)
        reg = httpx.post(f"{hub.base_url}/api/register", json={"hostname": "k"}).json()
        auth = bearer(reg["server_id"], reg["api_key"])
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        for i in range(10):  # new connections while one worker is gone
            r = httpx.post(f"{hub.base_url}/api/metrics", json=snapshot(i), headers=auth)
            assert r.status_code == 200, r.text
        deadline = time.monotonic() + 20
        pids: set[int] = set()
        while time.monotonic() < deadline:
            pids = {p.pid for p in workers_of(hub, 2)}
            if victim.pid not in pids:
                break
            time.sleep(0.2)
        assert victim.pid not in pids and survivor.pid in pids
        assert "exited with -9; restarting" in hub.log()


def test_ctrl_c_stops_the_hub_and_its_workers_together(tmp_path: Path) -> None:
    with running_hub(tmp_path, None, "--ingest-workers", "2") as hub:
        workers = workers_of(hub, 2)
        for proc in [psutil.Process(hub.process.pid), *workers]:  # what a terminal does
            proc.send_signal(signal.SIGINT)
        assert hub.process.wait(timeout=30) == 0
        _gone, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, [p.pid for p in alive]
        assert "restarting" not in hub.log()


def test_workers_stop_with_the_hub_even_when_it_is_killed(tmp_path: Path) -> None:
    with running_hub(tmp_path, None, "--ingest-workers", "2") as hub:
        workers = workers_of(hub, 2)
        hub.kill()  # SIGKILL: the hub runs no shutdown code; the workers see their channel close
        _gone, alive = psutil.wait_procs(workers, timeout=20)
        assert not alive, [p.pid for p in alive]


def test_the_hub_alone_serves_everything_with_no_workers(tmp_path: Path) -> None:
    with running_hub(tmp_path, None, "--ingest-workers", "0") as hub:
        assert psutil.Process(hub.process.pid).children() == []
        reg = httpx.post(f"{hub.base_url}/api/register", json={"hostname": "solo"}).json()
        with httpx.Client(base_url=hub.base_url, timeout=10) as agent:
            r = agent.post(
                "/api/metrics", json=snapshot(0), headers=bearer(reg["server_id"], reg["api_key"])
            )
            assert r.status_code == 200
            assert holder_of_single(hub, local_port(r)) == hub.process.pid


def holder_of_single(hub: RunningHub, client_port: int) -> int:
    for conn in psutil.Process(hub.process.pid).net_connections(kind="tcp"):
        if conn.raddr and conn.raddr.port == client_port:
            return hub.process.pid
    return os.getpid()  # nobody: fails the caller's comparison


def test_a_stopping_hub_commits_what_its_workers_hold_and_answers_no_errors(
    tmp_path: Path,
) -> None:
    """SIGTERM during ingest: every request gets 200 or a refused/closed connection (never a
    5xx), and every acknowledged snapshot is stored (the hub commits its workers' writes until
    they exited)."""
    env = {"FLEETWATCH_RATE_LIMIT_PER_MINUTE": "0"}
    hub = start_hub(tmp_path / "hub", None, "--ingest-workers", "2", **env)
    try:
        workers_of(hub, 2)
        regs = [
            httpx.post(f"{hub.base_url}/api/register", json={"hostname": f"d{i}"}).json()
            for i in range(4)
        ]
        acknowledged: list[str] = []
        errors: list[str] = []
        stop = threading.Event()

        def agent(reg: dict[str, str]) -> None:
            auth = bearer(reg["server_id"], reg["api_key"])
            with httpx.Client(base_url=hub.base_url, timeout=30) as client:
                i = 0
                while not stop.is_set():
                    body = snapshot(i)
                    i += 1
                    try:
                        r = client.post("/api/metrics", json=body, headers=auth)
                    except httpx.TransportError:
                        time.sleep(0.02)
                        continue
                    if r.status_code == 200:
                        acknowledged.append(str(body["snapshot_id"]))
                    else:
                        errors.append(f"{r.status_code} {r.text}")

        threads = [threading.Thread(target=agent, args=(reg,)) for reg in regs]
        for t in threads:
            t.start()
        time.sleep(1.5)
        hub.process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal it stopped for once it is done
        assert hub.process.wait(timeout=60) in (0, -signal.SIGTERM), hub.log()
        assert "still busy" not in hub.log()
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        stop.set()
        hub.stop()
    assert not errors, errors[:5]
    assert len(acknowledged) > 20
    with sqlite3.connect(hub.data_dir / "fleetwatch.db") as db:
        stored = {row[0] for row in db.execute("SELECT snapshot_id FROM snapshots")}
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged snapshots were not stored"
