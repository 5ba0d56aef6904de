"""Prometheus remote-write (issue 19.3) from a real hub into a real VictoriaMetrics (Debian
`victoria-metrics`): every stored sample arrives with its value and time; while the TSDB is
down ingest goes on and nothing is lost (also across a hub restart); a queue that fills drops
its oldest samples and counts them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import make_snapshot
from hubtest import RunningHub, admin_token, bearer, free_port, postgres_schema, start_hub

VM = shutil.which("victoria-metrics")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(VM is None, reason="Debian victoria-metrics")]
CPU = "fleetwatch_cpu_usage_ratio"


class Victoria:
    def __init__(self, storage: Path, port: int) -> None:
        self.storage, self.port = storage, port
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert VM is not None
        cmd = [VM, f"-storageDataPath={self.storage}", f"-httpListenAddr=127.0.0.1:{self.port}",
               "-retentionPeriod=100y", "-loggerLevel=ERROR"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("victoria-metrics did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(20)
            self.proc = None

    def samples(self, name: str) -> dict[str, list[tuple[int, float]]]:
        """hostname -> [(timestamp ms, value)] of series `name`, as stored."""
        httpx.get(self.base + "/internal/force_flush", timeout=20)
        r = httpx.get(self.base + "/api/v1/export", params={"match[]": name}, timeout=20)
        out: dict[str, list[tuple[int, float]]] = {}
        for line in r.text.splitlines():
            item = json.loads(line)
            pairs = zip(item["timestamps"], item["values"], strict=True)
            out.setdefault(item["metric"]["hostname"], []).extend(pairs)
        return {k: sorted(v) for k, v in out.items()}

    def wait_for(self, name: str, count: int, timeout: float = 30) -> dict[str, list[Any]]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.samples(name)
            if sum(map(len, got.values())) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.5)


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[Victoria]:
    vm = Victoria(tmp_path / "vm", free_port())
    try:
        yield vm
    finally:
        vm.stop()


def hub_for(tmp_path: Path, vm: Victoria, database_url: str | None = None, name: str = "hub",
            **env: str) -> RunningHub:  # fmt: skip
    return start_hub(tmp_path / name, database_url, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0",
                     FLEETWATCH_REMOTE_WRITE_URL=f"{vm.base}/api/v1/write",
                     FLEETWATCH_REMOTE_WRITE_MAX_BACKOFF_SECONDS="1", **env)  # fmt: skip


def post(hub: RunningHub, hostname: str, cpus: list[float], start: float) -> None:
    reg = httpx.post(f"{hub.base_url}/api/register", json={"hostname": hostname,
                                                         "group_name": "web"}).json()  # fmt: skip
    auth = bearer(reg["server_id"], reg["api_key"])
    with httpx.Client(base_url=hub.base_url, headers=auth, timeout=10) as http:
        for i, cpu in enumerate(cpus):
            at = datetime.fromtimestamp(start + i, UTC).isoformat()
            body = make_snapshot(snapshot_id=uuid.uuid4().hex, collected_at=at)
            body["metrics"]["cpu_percent"] = cpu
            r = http.post("/api/metrics", json=body)
            assert r.status_code == 200, r.text


def counters(hub: RunningHub) -> dict[str, float]:
    text = httpx.get(f"{hub.base_url}/metrics",
                     headers={"Authorization": f"Bearer {admin_token(hub)}"}).text  # fmt: skip
    found = re.findall(r'fleetwatch_hub_remote_write_samples_total\{outcome="(\w+)"\} (\S+)', text)
    return {k: float(v) for k, v in found}


def test_every_sample_arrives_with_its_value_and_time(tmp_path: Path, victoria: Victoria) -> None:
    victoria.start()
    hub = hub_for(tmp_path, victoria)
    try:
        start = time.time() - 600
        post(hub, "rw-a", [10.0, 20.5, 30.25], start)
        post(hub, "rw-b", [99.0, 1.0], start)
        got = victoria.wait_for(CPU, 5)
    finally:
        hub.stop()
    ms = int(start * 1000)
    assert got["rw-a"] == [(ms, 0.1), (ms + 1000, 0.205), (ms + 2000, 0.3025)]
    assert got["rw-b"] == [(ms, 0.99), (ms + 1000, 0.01)]
    assert len(victoria.samples("fleetwatch_memory_usage_ratio")["rw-a"]) == 3


def test_an_outage_loses_nothing_even_across_a_restart(tmp_path: Path, victoria: Victoria) -> None:
    hub = hub_for(tmp_path, victoria)  # the TSDB is not up yet
    try:
        time.sleep(1.5)  # the writer has started (from the newest row: none)
        started = time.monotonic()
        post(hub, "down-1", [float(i) for i in range(40)], time.time() - 100)
        assert time.monotonic() - started < 20  # ingest did not wait for the TSDB
        time.sleep(2)
        assert counters(hub).get("retried", 0) > 0 and counters(hub).get("sent", 0) == 0
    finally:
        hub.stop()
    victoria.start()
    hub = hub_for(tmp_path, victoria)  # goes on from the last row sent: the 40 unsent rows
    try:
        got = victoria.wait_for(CPU, 40)
        assert [v for _, v in got["down-1"]] == [i / 100 for i in range(40)]
        assert counters(hub)["sent"] >= 40 * 11 - 40  # every hot number (some may be absent)
    finally:
        hub.stop()


def test_a_full_queue_drops_the_oldest_and_counts_them(tmp_path: Path, victoria: Victoria) -> None:
    hub = hub_for(tmp_path, victoria, FLEETWATCH_REMOTE_WRITE_BATCH_SAMPLES="110",
                  FLEETWATCH_REMOTE_WRITE_QUEUE_BYTES="65536")  # fmt: skip
    try:
        time.sleep(1.5)
        post(hub, "full-1", [float(i % 100) for i in range(900)], time.time() - 1000)
        deadline = time.monotonic() + 20
        while counters(hub).get("dropped", 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        victoria.start()
        deadline = time.monotonic() + 30
        while True:
            c = counters(hub)
            queued_all = c.get("sent", 0) + c.get("dropped", 0)
            if queued_all >= 900 * 11 - 900 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        got = victoria.wait_for(CPU, 1)
    finally:
        hub.stop()
    assert c["dropped"] > 0
    cpu = got["full-1"]
    assert 0 < len(cpu) < 900
    assert cpu[-1][1] == (899 % 100) / 100  # the newest arrived; the oldest were dropped
    # sent + dropped covers every sample the hub stored, and VictoriaMetrics has the sent ones
    per_snapshot = c["sent"] / len(cpu)
    assert c["sent"] + c["dropped"] == pytest.approx(900 * per_snapshot)


@pytest.mark.postgres
def test_replicas_on_postgresql_send_each_sample_once(
    tmp_path: Path, victoria: Victoria, postgres_url: str
) -> None:
    victoria.start()
    with postgres_schema(postgres_url) as url:
        a = hub_for(tmp_path, victoria, url, "a")
        b = hub_for(tmp_path, victoria, url, "b")
        try:
            start = time.time() - 300
            post(a, "pg-a", [1.0, 2.0, 3.0], start)  # each replica stores some
            post(b, "pg-b", [4.0, 5.0], start)
            got = victoria.wait_for(CPU, 5)
            time.sleep(3)  # a second sender would have sent them again by now
            got = victoria.samples(CPU)
        finally:
            b.stop()
            a.stop()
    ms = int(start * 1000)  # once each: only the elected leader sends, whoever stored them
    assert got["pg-a"] == [(ms, 0.01), (ms + 1000, 0.02), (ms + 2000, 0.03)]
    assert got["pg-b"] == [(ms, 0.04), (ms + 1000, 0.05)]
