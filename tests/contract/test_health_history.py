"""Issue 20.2: the health score's history (a day of minutes, hourly rows after it), the
analytics summary and export, and `health_score` as an alert metric, through a real in-process
hub on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from authhelp import token_for
from factories import make_disk, make_snapshot
from fleetwatch.hub.services import health_history
from fleetwatch.hub.services.alerts import RUNTIME_KEY
from fleetwatch.hub.services.health import compute
from fleetwatch.hub.services.settings import HealthSettings
from hubtest import SyncClient, ctx_of, postgres_schema, register, sync_hub_client

HOUR = 3600


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncClient]:
    with ExitStack() as stack:
        url = None
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
        hub = stack.enter_context(sync_hub_client(tmp_path, url))
        token = hub.run(token_for(ctx_of(hub), "viewer"))
        hub._client.event_hooks["request"].append(_viewer_on_health(token))
        yield hub


def _viewer_on_health(token: str) -> Callable[[httpx.Request], Awaitable[None]]:
    async def hook(request: httpx.Request) -> None:  # a viewer reads /api/health*
        if request.url.path.startswith("/api/health"):
            request.headers["Authorization"] = f"Bearer {token}"

    return hook


def post(client: SyncClient, hostname: str, group: str = "web", **metrics: Any) -> str:
    server_id, auth = register(client, hostname, group_name=group)
    body = make_snapshot(snapshot_id=uuid.uuid4().hex)
    body["metrics"].update(metrics)
    body["services"], body["watched_processes"] = [], {}
    assert client.post("/api/metrics", json=body, headers=auth).status_code == 200
    return server_id


def wait_for_alert(client: SyncClient, server_id: str) -> None:
    """Until the server's disk alert fired (the engine evaluates after the snapshot commits)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(a["server_id"] == server_id for a in client.get("/api/dashboard/alerts").json()):
            return
        time.sleep(0.05)
    raise AssertionError("the disk alert never fired")


def write(client: SyncClient, scope: str, score: float, at: float) -> None:
    rows = [{"scope": scope, "ts": int(at // 60 * 60), "score": score, "cpu": score / 2,
             "memory": None, "disk": 50.0}]  # fmt: skip
    ctx = ctx_of(client)
    client.run(ctx.db.write(lambda conn: health_history.write_minute(conn, rows, at, 30)))


def test_a_day_of_minutes_then_hourly_means(client: SyncClient) -> None:
    now = time.time()
    start = (now - 30 * HOUR) // HOUR * HOUR  # 30 hours ago, on the hour
    for minute in range(0, 60, 10):  # an hour that is now past the day: folds, then goes
        write(client, "group:db", 40.0 + minute, start + minute * 60)
    write(client, "fleet", 100.0, start + HOUR + 60)  # the next hour's first minute folds it
    for back in (90, 30, 5):  # minutes within the day
        write(client, "group:db", 95.0, now - back * 60)
    write(client, "group:db", 96.0, now - 5 * 60)  # the same minute again: replaced
    day = client.get("/api/health/history", params={"scope": "group:db"}).json()
    assert [p["score"] for p in day["points"]] == [95.0, 95.0, 96.0]
    assert {p["resolution"] for p in day["points"]} == {"1m"} and day["hours"] == 24
    two_days = client.get("/api/health/history?scope=group:db&hours=48").json()["points"]
    hourly = [p for p in two_days if p["resolution"] == "1h"]
    assert len(hourly) == 1 and hourly[0]["ts"] == start
    assert (hourly[0]["score"], hourly[0]["score_min"], hourly[0]["score_max"]) == (
        65.0,
        40.0,
        90.0,
    )
    assert hourly[0]["cpu"] == 32.5 and hourly[0]["memory"] is None
    assert [p["ts"] for p in two_days] == sorted(p["ts"] for p in two_days)
    # hourly rows past `health_history_days` are deleted
    write(client, "fleet", 100.0, now + 40 * 86400)
    assert client.get("/api/health/history?scope=group:db&hours=48").json()["points"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("scope=nonsense", "scope"), ("scope=group:", "scope"), ("hours=0", "hours"),
     ("hours=1e9", "hours"), ("hours=abc", "hours"), ("scope=" + "x" * 400, "scope")],
)  # fmt: skip
def test_bad_history_queries_get_a_clear_422(client: SyncClient, query: str, field: str) -> None:
    r = client.get(f"/api/health/history?{query}")
    assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


def test_the_leader_records_every_scope_and_the_summary_shows_trends(client: SyncClient) -> None:
    post(client, "calm-01", cpu_percent=10.0)
    full = post(client, "full-01", group="db", disks=[make_disk("/data", percent=100.0)])
    wait_for_alert(client, full)
    rows = client.run(health_history.record(ctx_of(client), now=time.time() - 600))
    assert rows == 2 + 2 + 1  # two servers, two groups, the fleet
    client.run(health_history.record(ctx_of(client)))
    fleet = client.get("/api/health/history?scope=fleet").json()["points"]
    assert len(fleet) == 2 and fleet[-1]["score"] == 75.0 and fleet[-1]["disk"] is not None
    server = client.get(f"/api/health/history?scope=server:{full}").json()["points"]
    assert server[-1]["score"] == 50.0
    summary = client.get("/api/health/summary").json()
    assert summary["current"]["health_score"] == 75.0 and summary["current"]["band"] == "warning"
    assert summary["current"]["servers_total"] == 2 and summary["current"]["critical_alerts"] >= 1
    trend = summary["trends_24h"]["health_score"]
    assert (trend["now"], trend["min"], trend["max"], trend["points"]) == (75.0, 75.0, 75.0, 2)
    assert summary["worst_servers"][0]["name"] == "full-01"
    assert {g["name"] for g in summary["groups"]} == {"web", "db"}
    r = client.get("/api/health/export")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    exported = r.json()
    assert set(exported["history"]) == {"fleet", "group:db", "group:web"}
    assert len(exported["history"]["fleet"]) == 2 and exported["health"]["fleet"]["score"] == 75.0


def test_a_low_score_fires_an_alert_that_does_not_lower_the_score(client: SyncClient) -> None:
    post(client, "calm-01")
    full = post(client, "full-01", disks=[make_disk("/data", percent=100.0)])
    wait_for_alert(client, full)
    rule = {"name": "Health", "metric": "health_score", "warning": 80.0, "critical": 60.0,
            "duration_seconds": 0, "cooldown_seconds": 0}  # fmt: skip
    r = client.post("/api/dashboard/alert-rules", json=rule)
    assert r.status_code == 201, r.text
    engine = ctx_of(client).extras[RUNTIME_KEY].engine
    client.run(engine.check_timers())
    firing = [a for a in client.get("/api/dashboard/alerts").json()
              if a["metric"] == "health_score"]  # fmt: skip
    assert [(a["server_id"], a["level"]) for a in firing] == [(full, "CRITICAL")]
    assert firing[0]["message"] == "Low health score: 50 (threshold: 60)"
    scores = {s["name"]: s for s in client.get("/api/health").json()["servers"]}
    assert scores["full-01"]["score"] == 50.0  # the disk and its alert; not the health alert
    assert scores["calm-01"]["score"] == 100.0


def test_the_hub_s_own_errors_cost_the_fleet_points() -> None:
    servers = [{"id": "a", "hostname": "a", "status": "online", "metrics": {}, "disks": []}]
    scored = compute({"servers": servers}, HealthSettings(), hub_errors=3)
    assert scored["fleet"]["score"] == 94.0
    assert scored["fleet"]["explanation"] == [
        {"factor": "hub logged 3 errors in 15 min", "points": -6.0}
    ]
    assert compute({"servers": servers}, HealthSettings(), hub_errors=50)["fleet"]["score"] == 80.0
    assert compute({"servers": servers}, HealthSettings())["fleet"]["explanation"] == []
