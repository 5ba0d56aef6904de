"""Contract: changing servers, groups and settings, deleting servers, and cleanup (H3/H4, H2
retention) on SQLite and PostgreSQL through the real app."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from factories import make_snapshot
from fleetwatch.hub.services.servers import PALETTE, fallback_color
from fleetwatch.hub.store import hours, tables
from unit.hub_query.harness import Hub, insert_live, insert_series, insert_server


def _server(hub: Hub, sid: str) -> dict[str, Any]:
    body = hub.client.get("/api/dashboard").json()
    return next(s for s in body["servers"] if s["id"] == sid)


def _detail(hub: Hub, sid: str) -> dict[str, Any]:
    server: dict[str, Any] = hub.client.get(f"/api/dashboard/server/{sid}").json()["server"]
    return server


def _count(hub: Hub, table: Any, server_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(table)
    if server_id is not None:
        stmt = stmt.where(table.c.server_id == server_id)
    with hub.engine.connect() as conn:
        return int(conn.execute(stmt).scalar() or 0)


def test_patch_server_changes_what_the_dashboard_shows(hub: Hub) -> None:
    sid = insert_server(hub.engine, last_seen=time.time())
    r = hub.client.patch(
        f"/api/dashboard/server/{sid}",
        json={
            "display_name": "Web <one>",
            "group_name": "production",
            "notes": "rack 4",
            "tags": ["eu", "web"],
            "thresholds": {"cpu_warning": 60, "cpu_critical": 70},
            "interval_seconds": 30,
        },
    )
    assert r.status_code == 200, r.text
    s = _server(hub, sid)
    assert s["name"] == s["display_name"] == "Web <one>"
    assert (s["group_name"], s["group_color"]) == ("production", fallback_color("production"))
    assert s["group_color"] in PALETTE
    assert (s["tags"], s["interval_seconds"]) == (["eu", "web"], 30)
    assert _detail(hub, sid)["notes"] == "rack 4"
    assert s["thresholds"]["cpu_warning"] == 60 and s["thresholds"]["memory_warning"] == 80
    assert s["threshold_overrides"] == {"cpu_warning": 60.0, "cpu_critical": 70.0}
    # partial update keeps the rest; null clears
    hub.client.patch(f"/api/dashboard/server/{sid}", json={"display_name": None})
    s = _server(hub, sid)
    assert s["name"] == "web-01" and _detail(hub, sid)["notes"] == "rack 4"
    hub.client.patch(f"/api/dashboard/server/{sid}", json={"thresholds": None})
    assert _server(hub, sid)["threshold_overrides"] == {}


def test_group_colour_on_patch_and_palette_on_first_use(hub: Hub) -> None:
    a = insert_server(hub.engine, hostname="a")
    b = insert_server(hub.engine, hostname="b")
    hub.client.patch(f"/api/dashboard/server/{a}", json={"group_name": "web"})
    r = hub.client.patch(
        f"/api/dashboard/server/{b}", json={"group_name": "db", "group_color": "#123abc"}
    )
    assert r.json()["changed"]["group_color"] == "#123abc"
    groups = {g["name"]: g for g in hub.client.get("/api/dashboard/groups").json()}
    assert groups["web"] == {"name": "web", "color": fallback_color("web"), "server_count": 1}
    assert groups["db"]["color"] == "#123abc"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"thresholds": {"cpu_warning": 101}}, "thresholds.cpu_warning"),
        ({"thresholds": {"cpu_warning": -1}}, "thresholds.cpu_warning"),
        ({"thresholds": {"memory_warning": 96}}, "thresholds.memory_warning"),
        ({"thresholds": {"disk_warning": 90, "disk_critical": 90}}, "thresholds.disk_warning"),
        ({"thresholds": {"gpu_warning": 1}}, "thresholds.gpu_warning"),
        ({"interval_seconds": 0}, "interval_seconds"),
        ({"interval_seconds": "often"}, "interval_seconds"),
        ({"group_name": "web", "group_color": "red"}, "group_color"),
        ({"group_color": "#ffffff"}, "group_color"),
        ({"display_name": "x" * 300}, "display_name"),
        ({"hostname": "renamed"}, "hostname"),
        ({"display_name": "nul\x00byte"}, "display_name"),
        ({"interval_seconds": True}, "interval_seconds"),
        ({"tags": ["ok", 5]}, "tags[1]"),
    ],
)
def test_patch_server_rejects_bad_values_naming_the_field(
    hub: Hub, body: dict[str, Any], field: str
) -> None:
    sid = insert_server(hub.engine)
    r = hub.client.patch(f"/api/dashboard/server/{sid}", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert _server(hub, sid)["threshold_overrides"] == {}


def test_patch_with_malformed_json_is_422(hub: Hub) -> None:
    sid = insert_server(hub.engine)
    r = hub.client.patch(
        f"/api/dashboard/server/{sid}",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and "error" in r.json()


def test_delete_server_removes_all_its_data(hub: Hub) -> None:
    now = time.time()
    keep = insert_server(hub.engine, hostname="keep", last_seen=now)
    gone = insert_server(hub.engine, hostname="gone", last_seen=now, snapshot=make_snapshot())
    for sid in (keep, gone):
        insert_series(hub.engine, sid, [(now - 60 * i, {"cpu_percent": 1.0}) for i in range(5)])
        insert_live(hub.engine, sid, [(now, {"cpu_percent": 1.0, "memory_percent": 2.0})])
    r = hub.client.delete(f"/api/dashboard/server/{gone}")
    assert r.status_code == 200
    assert r.json()["deleted"]["snapshots"] == 5
    for table in (tables.snapshots, tables.rollup_1m, tables.rollup_1h, tables.live_samples):
        assert _count(hub, table, gone) == 0
        assert _count(hub, table, keep) > 0
    assert [s["id"] for s in hub.client.get("/api/dashboard").json()["servers"]] == [keep]
    assert hub.client.get(f"/api/dashboard/server/{gone}").status_code == 404
    with hub.engine.connect() as conn:
        audit = conn.execute(
            select(tables.audit_log).where(tables.audit_log.c.action == "server.delete")
        ).one()
    assert audit.target == gone and "gone" in audit.detail


def test_groups_rename_moves_servers(hub: Hub) -> None:
    sid = insert_server(hub.engine, group_name="old")
    r = hub.client.patch(
        "/api/dashboard/groups", json={"name": "old", "rename_to": "new", "color": "#00ff00"}
    )
    assert r.status_code == 200 and r.json() == {"name": "new", "color": "#00ff00"}
    assert _server(hub, sid)["group_name"] == "new"
    assert [g["name"] for g in hub.client.get("/api/dashboard/groups").json()] == ["new"]
    hub.client.patch("/api/dashboard/groups", json={"name": "other"})
    r = hub.client.patch("/api/dashboard/groups", json={"name": "new", "rename_to": "other"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "rename_to"
    r = hub.client.patch("/api/dashboard/groups", json={"name": "x", "color": "#zzz"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "color"


def test_settings_defaults_update_and_validation(hub: Hub) -> None:
    s = hub.client.get("/api/dashboard/settings").json()
    assert s["stale_threshold_minutes"] == 5 and s["default_thresholds"]["cpu_warning"] == 85
    r = hub.client.patch(
        "/api/dashboard/settings",
        json={"stale_threshold_minutes": 1, "default_thresholds": {"cpu_warning": 70}},
    )
    assert r.status_code == 200, r.text
    s = hub.client.get("/api/dashboard/settings").json()
    assert s["stale_threshold_minutes"] == 1
    assert s["default_thresholds"]["cpu_warning"] == 70
    assert s["default_thresholds"]["cpu_critical"] == 95
    for body, field in [
        ({"stale_threshold_minutes": 0}, "stale_threshold_minutes"),
        ({"raw_retention_hours": "a"}, "raw_retention_hours"),
        ({"colour": 1}, "colour"),
        ({"default_thresholds": {"cpu_warning": 99}}, "default_thresholds"),
        ({"rollup_1h_retention_days": 1}, "request"),
        ({"refresh_interval_seconds": True}, "refresh_interval_seconds"),
    ]:
        r = hub.client.patch("/api/dashboard/settings", json=body)
        assert r.status_code == 422, body
        assert (r.json()["error"]["field"] or "request") == field, r.json()
    r = hub.client.patch(
        "/api/dashboard/settings",
        content=b'{"live_retention_minutes": 1e999}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "live_retention_minutes"
    assert hub.client.get("/api/dashboard/settings").json()["stale_threshold_minutes"] == 1


def test_stale_threshold_setting_drives_online_status(hub: Hub) -> None:
    sid = insert_server(hub.engine, last_seen=time.time() - 150)
    assert _server(hub, sid)["status"] == "online"
    hub.client.patch("/api/dashboard/settings", json={"stale_threshold_minutes": 2})
    assert _server(hub, sid)["status"] == "offline"


def test_cleanup_deletes_only_what_is_past_retention(hub: Hub) -> None:
    now = time.time()
    sid = insert_server(hub.engine, last_seen=now)
    old = [(now - 3 * 86400 - 60 * i, {"cpu_percent": 5.0}) for i in range(3)]
    new = [(now - 60 * i, {"cpu_percent": 5.0}) for i in range(1, 4)]
    insert_series(hub.engine, sid, old + new)
    insert_live(
        hub.engine,
        sid,
        [
            (now - 7200, {"cpu_percent": 1.0, "memory_percent": 1.0}),
            (now, {"cpu_percent": 1.0, "memory_percent": 1.0}),
        ],
    )
    hub.client.patch(
        "/api/dashboard/settings", json={"raw_retention_hours": 24, "rollup_1m_retention_days": 2}
    )
    r = hub.client.delete("/api/dashboard/settings")
    assert r.status_code == 200
    deleted = r.json()["deleted"]
    assert deleted["snapshots"] == 3
    assert deleted["rollup_1m"] >= 1
    assert deleted["rollup_1h"] == 0
    assert deleted["live_samples"] == 1
    assert _count(hub, tables.snapshots, sid) == 3
    assert _count(hub, tables.live_samples, sid) == 1
    again = hub.client.delete("/api/dashboard/settings").json()["deleted"]
    assert sum(again.values()) == 0


def test_cleanup_keeps_the_minutes_of_a_silent_servers_open_hour(hub: Hub) -> None:
    r = hub.client.post("/api/register", json={"hostname": "quiet"})
    sid, key = r.json()["server_id"], r.json()["api_key"]
    headers = {"Authorization": f"Bearer {sid}:{key}"}
    start = (time.time() // 3600 - 72) * 3600  # three days ago, on the hour
    # snapshots are accepted only as old as raw retention keeps: keep four days while sending
    assert hub.client.patch("/api/dashboard/settings", json={"raw_retention_hours": 96}).is_success
    for i, cpu in enumerate((10.0, 30.0)):  # an hour, then the next: the server's last
        at = datetime.fromtimestamp(start + i * 3600 + 60, UTC).isoformat()
        body = make_snapshot(snapshot_id=f"quiet-{i}", collected_at=at)
        body["metrics"]["cpu_percent"] = cpu
        assert hub.client.post("/api/metrics", json=body, headers=headers).status_code == 200
    settings = {"raw_retention_hours": 24, "rollup_1m_retention_days": 2}
    assert hub.client.patch("/api/dashboard/settings", json=settings).status_code == 200
    deleted = hub.client.delete("/api/dashboard/settings").json()["deleted"]
    # the closed hour's minute goes; the open hour's stays: that hour is read from it
    assert deleted["rollup_1m"] == 1 and _count(hub, tables.rollup_1m, sid) == 1
    t = hours.hour_tier(hub.engine.dialect.name)
    query = select(t.c.bucket, t.c.cpu_percent_n, t.c.cpu_percent_sum).order_by(t.c.bucket)
    with hub.engine.connect() as conn:
        seen = conn.execute(query, {"server_id": sid, "start": 0.0, "until": 1e12}).all()
    assert [tuple(row) for row in seen] == [(start, 1, 10.0), (start + 3600, 1, 30.0)]


def test_periodic_retention_runs_in_the_background(hub: Hub) -> None:
    import asyncio

    from fleetwatch.hub.services.retention import run_periodic

    now = time.time()
    sid = insert_server(hub.engine, last_seen=now)
    insert_live(hub.engine, sid, [(now - 3 * 3600, {"cpu_percent": 1.0, "memory_percent": 1.0})])

    async def start() -> asyncio.Task[None]:
        return asyncio.create_task(run_periodic(hub.ctx, 0.05, 0.0))

    task = hub.client.run(start())
    try:
        deadline = time.monotonic() + 10
        while _count(hub, tables.live_samples, sid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _count(hub, tables.live_samples, sid) == 0
    finally:

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        hub.client.run(stop())
