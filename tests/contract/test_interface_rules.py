"""Per-interface alert rules (B4): errors and drops per second, receive/send rates in Mbit/s,
one condition per interface, chosen by a target pattern; from ingest to alert, and dry runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from contract.test_alerts_api import active, authed_hub, snap, wait_for
from factories import make_interface
from hubtest import SyncClient, postgres_schema, register


def nics(**per_name: dict[str, Any]) -> list[dict[str, Any]]:
    return [make_interface(name, **values) for name, values in per_name.items()]


def _rule(client: SyncClient, **body: Any) -> dict[str, Any]:
    r = client.post("/api/dashboard/alert-rules", json={"cooldown_seconds": 0, **body})
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def check_rules_fire_per_interface(client: SyncClient) -> None:
    shipped = {r["metric"]: r for r in client.get("/api/dashboard/alert-rules").json()}
    assert shipped["interface_errors_per_sec"]["enabled"] is False  # quiet by default
    _rule(client, name="NIC errors", metric="interface_errors_per_sec", target="eth*",
          warning=1, critical=10)  # fmt: skip
    _rule(client, name="Uplink busy", metric="interface_recv_mbps", target="eth0", warning=800)
    server_id, headers = register(client)
    busy = nics(
        eth0={"errors_per_sec": 12.5, "drops_per_sec": 0.0, "bytes_recv_per_sec": 125e6},
        eth1={"errors_per_sec": 0.0, "drops_per_sec": 0.0},
        lo={"errors_per_sec": 50.0, "drops_per_sec": 0.0},  # not matched by eth*
    )
    r = client.post("/api/metrics", json=snap(1, interfaces=busy), headers=headers)
    assert r.status_code == 200, r.text
    mine = lambda: [a for a in active(client) if a["server_id"] == server_id]  # noqa: E731
    alerts = wait_for(lambda: len(mine()) >= 2 and mine())
    by_metric = {a["metric"]: a for a in alerts}
    assert set(by_metric) == {"interface_errors_per_sec", "interface_recv_mbps"}
    errors = by_metric["interface_errors_per_sec"]
    assert errors["target"] == "eth0" and errors["level"] == "CRITICAL"
    assert errors["component"] == "network"
    assert errors["message"] == "Critical interface errors on eth0: 12.5 /s (threshold: 10.0 /s)"
    rate = by_metric["interface_recv_mbps"]
    assert rate["level"] == "WARNING" and rate["value"] == pytest.approx(1000.0)
    assert rate["message"] == "High receive rate on eth0: 1000.0 Mbit/s (threshold: 800.0 Mbit/s)"

    calm = nics(eth0={"errors_per_sec": 0.0, "drops_per_sec": 0.0}, lo={"errors_per_sec": 50.0})
    client.post("/api/metrics", json=snap(2, interfaces=calm), headers=headers)
    wait_for(lambda: not mine())


def check_dry_run_counts_drop_bursts(client: SyncClient) -> None:
    _server_id, headers = register(client)
    start = time.time() - 3 * 3600
    drops = [0, 30, 40, 0, 0, 25, 0]  # two bursts on eth0
    body = {"snapshots": [
        snap(100 + i, start + i * 600, interfaces=nics(eth0={"drops_per_sec": float(v)}))
        for i, v in enumerate(drops)
    ]}  # fmt: skip
    assert client.post("/api/metrics", json=body, headers=headers).status_code == 200
    rule = {"metric": "interface_drops_per_sec", "target": "eth0", "warning": 20}
    result = client.post("/api/dashboard/alert-rules/dry-run", json={"rule": rule}).json()
    assert result["fired"] == 2 and {e["target"] for e in result["events"]} == {"eth0"}
    rule["target"] = "wlan*"
    result = client.post("/api/dashboard/alert-rules/dry-run", json={"rule": rule}).json()
    assert result["fired"] == 0


CHECKS = (check_rules_fire_per_interface, check_dry_run_counts_drop_bursts)


@pytest.mark.parametrize("check", CHECKS)
def test_on_sqlite(tmp_path: Path, check: Any) -> None:
    with authed_hub(tmp_path) as client:
        check(client)


@pytest.mark.postgres
@pytest.mark.parametrize("check", CHECKS)
def test_on_postgresql(tmp_path: Path, postgres_url: str, check: Any) -> None:
    with postgres_schema(postgres_url) as url, authed_hub(tmp_path, url) as client:
        check(client)
