"""Contract: the dashboard query API (H3/H4) on SQLite and on PostgreSQL, through real HTTP
requests to the real app (lifespan, writer, migrations) on a real database."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from factories import make_snapshot
from fleetwatch.hub.store import tables
from unit.hub_query.harness import Hub, insert_live, insert_series, insert_server


def _points(hours: float, every_seconds: float, now: float) -> list[tuple[float, dict[str, float]]]:
    n = int(hours * 3600 / every_seconds)
    out = []
    for i in range(n):
        ts = now - (n - i) * every_seconds + 1
        out.append((ts, {"cpu_percent": float(i % 100), "memory_percent": 50.0}))
    return out


def test_empty_dashboard_has_zero_counts(hub: Hub) -> None:
    r = hub.client.get("/api/dashboard")
    assert r.status_code == 200
    body = r.json()
    assert body["summary"] == {
        "total_servers": 0,
        "online_servers": 0,
        "offline_servers": 0,
        "active_alerts": 0,
        "critical_alerts": 0,
        "unread_notifications": 0,
        "groups": 0,
    }
    assert body["servers"] == []


def test_dashboard_status_groups_and_latest_numbers(hub: Hub) -> None:
    now = time.time()
    snap = make_snapshot()
    fresh = insert_server(
        hub.engine, hostname="web-01", group_name="web", last_seen=now, snapshot=snap
    )
    # silent for 10 min > 5 min default stale threshold -> offline
    insert_server(hub.engine, hostname="db-01", group_name="database", last_seen=now - 600)
    # silent 10 min but reports every 5 min: offline only after 2.5 x 300 s
    slow = insert_server(hub.engine, hostname="batch-01", last_seen=now - 600, interval_seconds=300)
    insert_server(hub.engine, hostname="never-01")
    body = hub.client.get("/api/dashboard").json()
    by_name = {s["hostname"]: s for s in body["servers"]}
    assert body["summary"]["total_servers"] == 4
    assert body["summary"]["online_servers"] == 2
    assert body["summary"]["offline_servers"] == 2
    assert by_name["web-01"]["status"] == "online"
    assert by_name["db-01"]["status"] == "offline"
    assert by_name["batch-01"]["status"] == "online"
    assert by_name["never-01"]["status"] == "offline"
    web = by_name["web-01"]
    assert web["id"] == fresh and slow in {s["id"] for s in body["servers"]}
    assert web["group_color"].startswith("#")
    assert web["metrics"]["cpu_percent"] == 23.5
    assert web["metrics"]["disk_percent_max"] == 70.0
    assert web["metrics"]["net_recv_bytes_per_sec"] == 16384.0
    assert web["metrics"]["load_1"] == 0.5
    assert {d["mountpoint"] for d in web["disks"]} == {"/", "/home"}
    assert web["thresholds"]["cpu_warning"] == 85.0
    assert {g["name"] for g in body["groups"]} == {"web", "database"}


def test_dashboard_sees_a_new_snapshot(hub: Hub) -> None:
    now = time.time()
    sid = insert_server(hub.engine, last_seen=now, snapshot=make_snapshot())
    assert hub.client.get("/api/dashboard").json()["servers"][0]["metrics"]["cpu_percent"] == 23.5
    hot = make_snapshot(metrics={"cpu_percent": 97.0})
    from fleetwatch.hub.store.codec import pack

    with hub.engine.begin() as conn:
        conn.execute(
            tables.servers.update()
            .where(tables.servers.c.id == sid)
            .values(latest=pack(hot), last_snapshot_at=now + 1)
        )
    assert hub.client.get("/api/dashboard").json()["servers"][0]["metrics"]["cpu_percent"] == 97.0


def test_server_detail_latest_sections(hub: Hub) -> None:
    sid = insert_server(hub.engine, last_seen=time.time(), snapshot=make_snapshot())
    body = hub.client.get(f"/api/dashboard/server/{sid}").json()
    latest = body["latest"]
    assert [p["name"] for p in latest["processes"]] == ["postgres", "python3"]
    assert {s["service_name"] for s in latest["services"]} == {"ssh", "cron"}
    assert {i["name"] for i in latest["interfaces"]} == {"eth0", "lo"}
    assert latest["watched_processes"]["ghost"]["alive"] is False
    assert latest["system"]["hostname"] == "web-01"
    assert len(latest["disks"]) == 2
    assert body["server"]["id"] == sid
    assert body["history"]["points"] == 0


@pytest.mark.parametrize(
    ("hours", "tier", "step"),
    [(1, "raw", 5), (6, "raw", 30), (24, "1m", 120), (72, "1m", 360), (2160, "1h", 10800)],
)
def test_history_comes_from_the_right_tier(hub: Hub, hours: int, tier: str, step: int) -> None:
    now = time.time()
    sid = insert_server(hub.engine, last_seen=now)
    insert_series(hub.engine, sid, _points(min(hours, 30), 60, now))
    h = hub.client.get(f"/api/dashboard/server/{sid}", params={"hours": hours}).json()["history"]
    assert (h["tier"], h["step_seconds"]) == (tier, step)
    assert 0 < h["points"] <= 720
    assert len(h["ts"]) == h["points"] == len(h["series"]["cpu_percent"]["avg"])
    assert h["ts"] == sorted(h["ts"])
    cpu = h["series"]["cpu_percent"]
    for lo, avg, hi in zip(cpu["min"], cpu["avg"], cpu["max"], strict=True):
        assert lo <= avg <= hi
    assert set(h["series"]["memory_percent"]["avg"]) == {50.0}


def test_history_min_avg_max_of_a_bucket(hub: Hub) -> None:
    now = time.time()
    hour = float(int(now // 3600) * 3600) - 3 * 3600  # a full hour three hours ago
    sid = insert_server(hub.engine, last_seen=now)
    points = [(hour + 60 * i, {"cpu_percent": float(v)}) for i, v in enumerate((10, 20, 90))]
    insert_series(hub.engine, sid, points)
    h = hub.client.get(f"/api/dashboard/server/{sid}", params={"hours": 720}).json()["history"]
    assert h["tier"] == "1h" and h["ts"] == [hour]
    cpu = h["series"]["cpu_percent"]
    assert (cpu["min"][0], cpu["avg"][0], cpu["max"][0]) == (10.0, 40.0, 90.0)


def test_history_metric_subset(hub: Hub) -> None:
    sid = insert_server(hub.engine, last_seen=time.time())
    r = hub.client.get(f"/api/dashboard/server/{sid}", params={"metrics": "cpu_percent"})
    assert set(r.json()["history"]["series"]) == {"cpu_percent"}
    r = hub.client.get(f"/api/dashboard/server/{sid}", params={"metrics": "cpu,bogus"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "metrics"


@pytest.mark.parametrize("hours", ["0", "2161", "abc", "-5"])
def test_bad_hours_is_422_naming_the_field(hub: Hub, hours: str) -> None:
    sid = insert_server(hub.engine)
    r = hub.client.get(f"/api/dashboard/server/{sid}", params={"hours": hours})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "hours"


def test_unknown_server_is_404(hub: Hub) -> None:
    for path in ("/api/dashboard/server/nope", "/api/dashboard/server/nope/live"):
        r = hub.client.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert hub.client.patch("/api/dashboard/server/nope", json={"notes": "x"}).status_code == 404
    assert hub.client.delete("/api/dashboard/server/nope").status_code == 404


def test_live_samples_and_benchmark(hub: Hub) -> None:
    now = time.time()
    sid = insert_server(hub.engine, last_seen=now, live={"cpu_percent": 5.0, "memory_percent": 1.0})
    samples = [
        (now - 20 * 60, {"cpu_percent": 99.0, "memory_percent": 10.0, "process_count": 500}),
        (now - 120, {"cpu_percent": 10.0, "memory_percent": 40.0, "process_count": 100}),
        (now - 60, {"cpu_percent": 30.0, "memory_percent": 60.0, "process_count": 300}),
    ]
    insert_live(hub.engine, sid, samples)
    r = hub.client.get(f"/api/dashboard/server/{sid}/live", params={"minutes": 5, "benchmark": 30})
    body = r.json()
    assert [s["cpu_percent"] for s in body["samples"]] == [10.0, 30.0]
    assert body["latest"]["cpu_percent"] == 5.0
    bench = body["benchmark"]
    assert bench["samples"] == 3
    assert bench["cpu_percent"] == {
        "min": 10.0,
        "avg": pytest.approx(46.333, abs=0.01),
        "max": 99.0,
    }
    assert bench["process_count"]["max"] == 500
    short = hub.client.get(f"/api/dashboard/server/{sid}/live", params={"benchmark": 5}).json()
    assert short["benchmark"]["cpu_percent"]["max"] == 30.0
    bad = hub.client.get(f"/api/dashboard/server/{sid}/live", params={"minutes": 0})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "minutes"


def test_openapi_documents_every_dashboard_route(hub: Hub) -> None:
    spec = hub.client.get("/openapi.json").json()
    ops = [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/dashboard")
        for method, op in item.items()
    ]
    assert len(ops) >= 10
    for path, method, op in ops:
        assert op.get("summary"), f"{method} {path} has no summary"
        assert any(c.startswith("2") for c in op["responses"]), f"{method} {path}: no 2xx"


def test_audit_rows_are_written_for_changes(hub: Hub) -> None:
    sid = insert_server(hub.engine)
    hub.client.patch(f"/api/dashboard/server/{sid}", json={"notes": "rack 4"})
    with hub.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(tables.audit_log)).all()]
        assert "server.update" in actions
        n = conn.execute(select(func.count()).select_from(tables.servers)).scalar()
    assert n == 1


def test_history_cache_sees_new_and_late_data(hub: Hub) -> None:
    now = time.time()
    sid = insert_server(hub.engine, last_seen=now)
    insert_series(
        hub.engine, sid, [(now - 3600 * 5 - 60 * i, {"cpu_percent": 10.0}) for i in range(5)]
    )

    def cpu_max() -> float:
        h = hub.client.get(f"/api/dashboard/server/{sid}", params={"hours": 24}).json()
        return max(v for v in h["history"]["series"]["cpu_percent"]["max"] if v is not None)

    assert cpu_max() == 10.0
    assert cpu_max() == 10.0  # served from the cache
    # new data in the current bucket
    insert_series(hub.engine, sid, [(time.time(), {"cpu_percent": 20.0})])
    assert cpu_max() == 20.0
    # late data (an agent replaying its buffer) into a bucket cached as complete
    insert_series(hub.engine, sid, [(now - 3600 * 10, {"cpu_percent": 55.0})])
    assert cpu_max() == 55.0
    hub.client.delete(f"/api/dashboard/server/{sid}")
    assert hub.client.get(f"/api/dashboard/server/{sid}").status_code == 404
