"""The explainable health score (issue 20.1, B3): which factor cost how many points, per
server, group and fleet, through `GET /api/health` of a real in-process hub; weights and bands
are settings (validated)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from authhelp import token_for
from factories import make_disk, make_snapshot
from fleetwatch.hub.services.health import compute, server_factors
from fleetwatch.hub.services.settings import HealthSettings
from hubtest import SyncClient, ctx_of, register, sync_hub_client

LIMITS = {"cpu_warning": 85.0, "memory_warning": 80.0, "disk_warning": 85.0, "swap_warning": 80.0}


def item(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "s1", "hostname": "web-01", "name": "web-01", "group_name": "web",
        "status": "online", "thresholds": LIMITS, "alert_count": 0, "critical_alert_count": 0,
        "metrics": {"cpu_percent": 20.0, "memory_percent": 40.0, "swap_percent": 0.0},
        "disks": [{"mountpoint": "/", "percent": 40.0}, {"mountpoint": "/var", "percent": 93.0}],
    }  # fmt: skip
    return {**base, **overrides}


def test_each_factor_says_what_it_cost() -> None:
    factors = server_factors(item(), HealthSettings())
    # the fullest disk: (93 - 85) / (100 - 85) of the 30-point weight
    assert factors == [{"factor": "disk /var 93 %", "points": -16.0}]
    busy = item(metrics={"cpu_percent": 100.0, "memory_percent": 90.0}, disks=[],
                alert_count=3, critical_alert_count=2)  # fmt: skip
    assert server_factors(busy, HealthSettings()) == [
        {"factor": "2 critical and 1 warning alerts firing", "points": -40.0},  # capped
        {"factor": "cpu 100 %", "points": -25.0},
        {"factor": "memory 90 %", "points": -12.5},
    ]
    assert server_factors(item(status="offline"), HealthSettings()) == [
        {"factor": "offline", "points": -100.0}
    ]


def test_groups_and_the_fleet_are_the_mean_with_the_costliest_factors() -> None:
    servers = [item(), item(id="s2", hostname="db-01", name="db-01", group_name="db",
                            status="offline"),
               item(id="s3", hostname="web-02", name="web-02", disks=[])]  # fmt: skip
    scored = compute({"servers": servers}, HealthSettings())
    fleet = scored["fleet"]
    assert fleet["score"] == round((84.0 + 0.0 + 100.0) / 3, 1) and fleet["band"] == "critical"
    assert fleet["explanation"] == [
        {"factor": "1 of 3 servers offline", "points": -33.3},
        {"factor": "web-01: disk /var 93 %", "points": -5.3},
    ]
    web = next(g for g in scored["groups"] if g["name"] == "web")
    assert (web["score"], web["band"], web["servers"]) == (92.0, "healthy", 2)
    assert [s["name"] for s in scored["servers"]] == ["db-01", "web-01", "web-02"]  # worst first
    assert scored["servers"][1]["band"] == "warning"


def post(client: SyncClient, hostname: str, **metrics: Any) -> str:
    server_id, auth = register(client, hostname, group_name="web")
    body = make_snapshot(snapshot_id=uuid.uuid4().hex)
    body["metrics"].update(metrics)
    body["services"], body["watched_processes"] = [], {}  # nothing for an alert to fire on
    r = client.post("/api/metrics", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return server_id


def test_the_api_explains_scores_and_follows_the_weights(tmp_path: Path) -> None:
    with sync_hub_client(tmp_path) as client:
        post(client, "calm-01")
        post(client, "full-01", disks=[make_disk("/data", percent=100.0)])
        auth = {"Authorization": f"Bearer {client.run(token_for(ctx_of(client), 'viewer'))}"}
        got = client.get("/api/health", headers=auth).json()
        by_name = {s["name"]: s for s in got["servers"]}
        assert by_name["calm-01"]["score"] == 100.0 and by_name["calm-01"]["explanation"] == []
        assert by_name["full-01"]["explanation"] == [  # a full disk, and the alert it fires
            {"factor": "disk /data 100 %", "points": -30.0},
            {"factor": "1 critical alert firing", "points": -20.0},
        ]
        assert got["fleet"]["score"] == 75.0 and got["fleet"]["band"] == "warning"
        r = client.patch("/api/dashboard/settings", json={"health": {"disk_weight": 10.0}})
        assert r.status_code == 200, r.text
        assert client.get("/api/health", headers=auth).json()["fleet"]["score"] == 85.0
        assert client.get("/api/dashboard/settings").json()["health"]["cpu_weight"] == 25.0


@pytest.mark.parametrize(
    ("change", "field"),
    [({"warning_min": 95.0}, "warning_min"), ({"disk_weight": 101.0}, "disk_weight"),
     ({"nonsense": 1.0}, "nonsense")],
)  # fmt: skip
def test_bad_weights_are_refused_and_change_nothing(
    tmp_path: Path, change: dict[str, float], field: str
) -> None:
    with sync_hub_client(tmp_path) as client:
        r = client.patch("/api/dashboard/settings", json={"health": change})
        assert r.status_code == 422 and field in r.text, r.text
        assert (
            client.get("/api/dashboard/settings").json()["health"] == HealthSettings().model_dump()
        )


def test_the_api_needs_a_user(tmp_path: Path) -> None:
    with sync_hub_client(tmp_path) as client:
        r = client.get("/api/health")
        assert r.status_code == 401
