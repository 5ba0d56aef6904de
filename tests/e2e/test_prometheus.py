"""`GET /metrics` on a real hub (H11): scraped by a real Prometheus (Debian `prometheus`, on a
free loopback port) and checked by `promtool check metrics`; the values are the servers' latest
snapshots, labelled by server, hostname and group; OpenMetrics on request; tokens required."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from factories import make_snapshot
from hubtest import RunningHub, admin_token, bearer, free_port, start_hub

pytestmark = pytest.mark.e2e
PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
FLEETWATCH = [sys.executable, "-m", "fleetwatch.cli.main"]


class Scraped:
    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.token = admin_token(hub)
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.ids: dict[str, str] = {}
        for name, group, cpu in (
            ("web-01", "web", 42.0),
            ("db-01", None, 7.5),
            ("idle-01", None, None),
        ):
            reg = httpx.post(f"{hub.base_url}/api/register",
                             json={"hostname": name, "group_name": group}).json()  # fmt: skip
            self.ids[name] = reg["server_id"]
            if cpu is None:
                continue  # registered, never reported: offline
            body = make_snapshot(snapshot_id=uuid.uuid4().hex,
                                 collected_at=datetime.now(UTC).isoformat())  # fmt: skip
            body["metrics"]["cpu_percent"] = cpu
            body["metrics"]["cpu"]["percent"] = cpu
            r = httpx.post(f"{hub.base_url}/api/metrics", json=body,
                           headers=bearer(reg["server_id"], reg["api_key"]))  # fmt: skip
            assert r.status_code == 200, r.text

    def get(self, **headers: str) -> httpx.Response:
        return httpx.get(f"{self.hub.base_url}/metrics", headers={**self.auth, **headers})


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    hub = start_hub(tmp_path_factory.mktemp("prom"), None, FLEETWATCH_RATE_LIMIT_PER_MINUTE="0")
    try:
        yield Scraped(hub)
    finally:
        hub.stop()


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_the_fleet_and_the_hub_in_prometheus_text(scraped: Scraped) -> None:
    r = scraped.get()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = _samples(r.text)
    cpu = {
        labels["hostname"]: (labels, value) for labels, value in got["fleetwatch_cpu_usage_ratio"]
    }
    assert set(cpu) == {"web-01", "db-01"}  # the one that never reported has no numbers
    labels, value = cpu["web-01"]
    assert value == pytest.approx(0.42)
    assert labels["server_id"] == scraped.ids["web-01"] and labels["group"] == "web"
    up = {labels["hostname"]: value for labels, value in got["fleetwatch_server_up"]}
    assert up == {"web-01": 1.0, "db-01": 1.0, "idle-01": 0.0}
    fs = got["fleetwatch_filesystem_size_bytes"]
    assert all(labels["mountpoint"] and labels["device"] for labels, _ in fs)
    servers = {labels["status"]: value for labels, value in got["fleetwatch_hub_servers"]}
    assert servers == {"online": 2.0, "offline": 1.0}
    assert got["fleetwatch_hub_process_resident_memory_bytes"][0][1] > 10e6
    assert got["fleetwatch_hub_writer_writes_total"][0][1] >= 2  # at least the two snapshots
    assert got["fleetwatch_hub_writer_queue"][0][1] >= 0
    assert "fleetwatch_top_process_cpu_ratio" not in got  # no per-pid series fleet-wide


def test_openmetrics_on_request_and_tokens_required(scraped: Scraped) -> None:
    r = scraped.get(Accept="application/openmetrics-text; version=1.0.0")
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.endswith("# EOF\n")
    anonymous = httpx.get(f"{scraped.hub.base_url}/metrics")
    assert anonymous.status_code == 401 and "error" in anonymous.json()
    bad = httpx.get(f"{scraped.hub.base_url}/metrics", headers={"Authorization": "Bearer fwu_x"})
    assert bad.status_code == 401


@pytest.mark.skipif(PROMTOOL is None, reason="Debian's prometheus package (promtool) is needed")
def test_promtool_accepts_the_exposition(scraped: Scraped) -> None:
    assert PROMTOOL is not None
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=scraped.get().text,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus package is needed")
def test_a_real_prometheus_scrapes_the_hub(scraped: Scraped, tmp_path: Path) -> None:
    assert PROMETHEUS is not None
    port = free_port()
    target = scraped.hub.base_url.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: fleetwatch\n"
        f"    authorization: {{credentials: {scraped.token}}}\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        query = f"http://127.0.0.1:{port}/api/v1/query"
        promql = 'fleetwatch_cpu_usage_ratio{hostname="web-01"}'
        deadline, result = time.monotonic() + 45, []
        while time.monotonic() < deadline and not result:
            time.sleep(1)
            try:
                result = httpx.get(query, params={"query": promql}).json()["data"]["result"]
            except (httpx.TransportError, KeyError, ValueError):
                continue
        assert result, "Prometheus never got the series"
        assert result[0]["metric"]["group"] == "web"
        assert float(result[0]["value"][1]) == pytest.approx(0.42)
        up = httpx.get(query, params={"query": 'up{job="fleetwatch"}'}).json()["data"]["result"]
        assert up and up[0]["value"][1] == "1"
        _the_grafana_dashboard_works_on(query)
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_new_snapshot_shows_in_the_next_scrape(scraped: Scraped) -> None:
    before = _samples(scraped.get().text)["fleetwatch_cpu_usage_ratio"]
    assert {labels["hostname"] for labels, _ in before} == {"web-01", "db-01"}
    reg = httpx.post(f"{scraped.hub.base_url}/api/register", json={"hostname": "new-01"}).json()
    for cpu in (11.0, 66.0):  # the newest one counts, the encoded series are not stale
        body = make_snapshot(snapshot_id=uuid.uuid4().hex,
                             collected_at=datetime.now(UTC).isoformat())  # fmt: skip
        body["metrics"]["cpu"]["percent"] = cpu
        r = httpx.post(f"{scraped.hub.base_url}/api/metrics", json=body,
                       headers=bearer(reg["server_id"], reg["api_key"]))  # fmt: skip
        assert r.status_code == 200
        got = _samples(scraped.get().text)["fleetwatch_cpu_usage_ratio"]
        mine = [value for labels, value in got if labels["hostname"] == "new-01"]
        assert mine == [pytest.approx(cpu / 100)]
    openmetrics = scraped.get(Accept="application/openmetrics-text; version=1.0.0").text
    assert openmetrics.count("# EOF") == 1 and 'hostname="new-01"' in openmetrics


def _the_grafana_dashboard_works_on(query: str) -> None:
    """`fleetwatch grafana dashboard`: importable JSON whose every panel query runs in this
    Prometheus and finds series (template variables at "All")."""
    out = subprocess.run([*FLEETWATCH, "grafana", "dashboard"], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    board = json.loads(out.stdout)
    assert board["uid"] and board["schemaVersion"] >= 36 and board["__inputs"]
    kinds = {panel["type"] for panel in board["panels"]}
    assert {"stat", "piechart", "table", "timeseries"} <= kinds
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$group", ".*").replace("$server", ".*")
            answer = httpx.get(query, params={"query": expr}).json()
            assert answer["status"] == "success", (panel["title"], answer)
            if "rate(" not in expr and "== 0" not in expr:  # rates need two scrapes
                assert answer["data"]["result"], (panel["title"], expr)


def test_grafana_summary_is_seed_000s_json(scraped: Scraped) -> None:
    url = f"{scraped.hub.base_url}/api/grafana/summary"
    assert httpx.get(url).status_code == 401
    body = httpx.get(url, headers=scraped.auth).json()
    assert set(body) == {"generated_at", "system", "servers", "application"}
    assert body["system"]["memory_rss_bytes"] > 10e6 and body["system"]["hub_version"]
    web = next(s for s in body["servers"] if s["hostname"] == "web-01")
    assert web["status"] == "online" and web["group"] == "web"
    assert web["cpu_percent"] == pytest.approx(42.0)
    idle = next(s for s in body["servers"] if s["hostname"] == "idle-01")
    assert idle["status"] == "offline" and idle["cpu_percent"] is None
    app = body["application"]
    assert app["total_servers"] == len(body["servers"]) >= 3
    assert app["online_servers"] + app["offline_servers"] == app["total_servers"]


def _value(got: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for have, v in got.get(name, []) if labels.items() <= have.items())


def test_ingest_counts_add_up_across_the_workers(scraped: Scraped) -> None:
    """Accepted and refused agent requests, and write latency, as counted by the ingest
    workers (which send their counts to the hub process) and the alert engine."""
    names = {
        "payloads": ("fleetwatch_hub_ingest_payloads_total", {"kind": "snapshot"}),
        "samples": ("fleetwatch_hub_ingest_samples_total", {"kind": "snapshot"}),
        "invalid": ("fleetwatch_hub_ingest_rejected_total", {"reason": "invalid"}),
        "unauthorized": ("fleetwatch_hub_ingest_rejected_total", {"reason": "unauthorized"}),
        "writes": ("fleetwatch_hub_ingest_write_seconds_count", {"kind": "snapshot"}),
        "evaluated": ("fleetwatch_hub_alert_evaluations_total", {}),
    }

    def figures() -> dict[str, float]:
        got = _samples(scraped.get().text)
        return {key: _value(got, name, **labels) for key, (name, labels) in names.items()}

    before = figures()
    while True:  # what earlier tests sent may still be on its way from a worker
        time.sleep(1.5)
        now = figures()
        if now == before:
            break
        before = now
    base = scraped.hub.base_url
    reg = httpx.post(f"{base}/api/register", json={"hostname": "count-01"}).json()
    auth = bearer(reg["server_id"], reg["api_key"])
    batch = {"snapshots": [make_snapshot(snapshot_id=uuid.uuid4().hex,
                                         collected_at=datetime.now(UTC).isoformat())
                           for _ in range(3)]}  # fmt: skip
    assert httpx.post(f"{base}/api/metrics", json=batch, headers=auth).status_code == 200
    assert httpx.post(f"{base}/api/metrics", json={"metrics": 1}, headers=auth).status_code == 422
    wrong = bearer(reg["server_id"], "fwk_wrong")
    assert httpx.post(f"{base}/api/metrics", json=batch, headers=wrong).status_code == 401
    want = {"payloads": 1, "samples": 3, "invalid": 1, "unauthorized": 1, "writes": 1}
    deadline, grown = time.monotonic() + 10, {}
    while time.monotonic() < deadline:
        after = figures()
        grown = {key: after[key] - before[key] for key in want}
        if grown == want and after["evaluated"] >= before["evaluated"] + 3:
            break
        time.sleep(0.3)
    assert grown == want
    text = scraped.get().text
    assert 'fleetwatch_hub_ingest_write_seconds_bucket{kind="snapshot",le="+Inf"}' in text
    channels = _samples(text)["fleetwatch_hub_notifications_total"]
    outcomes = {labels["outcome"] for labels, _ in channels if labels["type"] == "inapp"}
    assert outcomes == {"sent", "failed", "dropped", "filtered"}
