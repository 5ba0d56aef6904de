"""Alerts API end to end in-process: ingest -> engine -> alert, notification, acknowledge,
resolve; rules / channels / maintenance CRUD with 422s naming the field; dry run; forecast."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from authhelp import token_for
from factories import make_disk, make_snapshot
from fleetwatch.hub.alerts.channels.registry import open_config
from fleetwatch.hub.services.alerts import RUNTIME_KEY
from fleetwatch.hub.store.tables import audit_log
from hubtest import SyncClient, ctx_of, postgres_schema, register, sync_hub_client


@contextmanager
def authed_hub(tmp_path: Path, database_url: str | None = None) -> Iterator[SyncClient]:
    with sync_hub_client(tmp_path, database_url, rate_limit_per_minute=0) as c:
        token = c.run(token_for(ctx_of(c), "admin", "alert-admin"))
        c._client.headers["Authorization"] = f"Bearer {token}"
        yield c


@pytest.fixture
def client(tmp_path: Path) -> Iterator[SyncClient]:
    with authed_hub(tmp_path) as c:
        yield c


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def snap(n: int, ts: float | None = None, **metrics: Any) -> dict[str, Any]:
    body = make_snapshot(snapshot_id=f"s-{n}", collected_at=iso(ts or time.time()),
                         watched_processes={}, services=[])  # fmt: skip
    body["metrics"].update(metrics)
    return body


def wait_for(fn: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def active(client: SyncClient) -> list[dict[str, Any]]:
    r = client.get("/api/dashboard/alerts")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.postgres
def test_alert_lifecycle_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    for check in (
        test_alert_lifecycle_from_ingest,
        test_maintenance_silences_and_per_server_thresholds_apply,
        test_dry_run_counts_firings_over_history,
        test_dry_run_reads_history_older_than_raw_retention_from_rollups,
        test_disk_forecast_from_history,
    ):
        with postgres_schema(postgres_url) as url, authed_hub(tmp_path, url) as pg_client:
            check(pg_client)


def test_alert_lifecycle_from_ingest(client: SyncClient) -> None:
    server_id, headers = register(client)
    # the built-in memory rule follows the dashboard's default thresholds (critical 90 %)
    r = client.post("/api/metrics", json=snap(1, memory_percent=97.5), headers=headers)
    assert r.status_code in (200, 201, 202), r.text
    alerts = wait_for(lambda: [a for a in active(client) if a["metric"] == "memory_percent"])
    alert = alerts[0]
    assert alert["level"] == "CRITICAL" and alert["component"] == "memory"
    assert alert["value"] == 97.5 and alert["threshold"] == 90.0
    assert alert["message"] == "Critical memory usage: 97.5% (threshold: 90.0%)"
    assert alert["server_id"] == server_id and alert["state"] == "firing" and alert["timestamp"]

    notes = wait_for(lambda: client.get("/api/dashboard/notifications").json())
    assert any("memory" in n["message"] for n in notes)

    r = client.request("PATCH", "/api/dashboard/alerts", json={"alert_id": alert["id"]})
    assert r.status_code == 200 and r.json()["alert"]["state"] == "acknowledged"
    assert not [a for a in active(client) if a["id"] == alert["id"]]

    client.post("/api/metrics", json=snap(2, memory_percent=20.0), headers=headers)
    hist = wait_for(lambda: client.get(
        "/api/dashboard/alerts/history", params={"state": "resolved", "server_id": server_id}
    ).json()["alerts"])  # fmt: skip
    assert hist[0]["id"] == alert["id"] and hist[0]["acknowledged_by"] == "alert-admin"
    assert hist[0]["resolved_at"] >= hist[0]["acknowledged_at"] >= hist[0]["fired_at"]

    r = client.request("PATCH", "/api/dashboard/notifications", json={"mark_all": True})
    assert r.status_code == 200 and r.json()["marked"] >= 1
    assert client.get("/api/dashboard/notifications").json() == []
    counts = client.get("/api/dashboard").json()
    assert "active_alerts" in str(counts)


def test_acknowledge_and_mark_read_errors(client: SyncClient) -> None:
    r = client.request("PATCH", "/api/dashboard/alerts", json={"alert_id": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "alert_id"
    r = client.request("PATCH", "/api/dashboard/alerts", json={"alert_id": 999})
    assert r.status_code == 404
    r = client.request("PATCH", "/api/dashboard/notifications", json={})
    assert r.status_code == 422 and r.json()["error"]["field"] == "notification_id"
    r = client.get("/api/dashboard/alerts/history", params={"level": "LOUD"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "level"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "bogus", "warning": 1}, "metric"),
        ({"metric": "cpu_percent"}, "warning"),
        ({"metric": "cpu_percent", "warning": 90, "critical": 80}, "critical"),
        ({"metric": "disk_free_gb", "warning": 1, "critical": 5}, "critical"),
        ({"metric": "cpu_percent", "warning": 90, "scope": "group"}, "scope_value"),
        ({"metric": "cpu_percent", "warning": 90, "target": "/"}, "target"),
        ({"metric": "cpu_percent", "warning": 90, "duration_seconds": -1}, "duration_seconds"),
        ({"metric": "cpu_percent", "warning": "high"}, "warning"),
    ],
)
def test_invalid_rule_names_the_field(client: SyncClient, body: dict[str, Any], field: str) -> None:
    r = client.post("/api/dashboard/alert-rules", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_rule_crud_is_audited(client: SyncClient) -> None:
    rules = client.get("/api/dashboard/alert-rules").json()
    assert {r["metric"] for r in rules} >= {"cpu_percent", "memory_percent", "disk_percent",
                                            "disk_free_gb", "offline", "process_down"}  # fmt: skip
    r = client.post("/api/dashboard/alert-rules", json={
        "name": "var disk", "metric": "disk_percent", "target": "/var*", "warning": 70,
        "critical": 80, "duration_seconds": 120, "hysteresis": 5,
    })  # fmt: skip
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["component"] == "disk" and rule["cooldown_seconds"] == 300
    r = client.request("PATCH", f"/api/dashboard/alert-rules/{rule['id']}", json={"warning": 60})
    assert r.status_code == 200 and r.json()["warning"] == 60 and r.json()["critical"] == 80
    r = client.request("PATCH", f"/api/dashboard/alert-rules/{rule['id']}", json={"warning": 90})
    assert r.status_code == 422 and r.json()["error"]["field"] == "critical"
    assert client.request("DELETE", f"/api/dashboard/alert-rules/{rule['id']}").status_code == 200
    assert client.get(f"/api/dashboard/alert-rules/{rule['id']}").status_code == 404
    actions = client.run(ctx_of(client).db.read(
        lambda c: [r.action for r in c.execute(select(audit_log.c.action))]
    ))  # fmt: skip
    assert {"rule.create", "rule.update", "rule.delete"} <= set(actions)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "w", "kind": "pager"}, "kind"),
        ({"name": "", "kind": "console"}, "name"),
        ({"name": "w", "kind": "webhook", "config": {"url": "ftp://x"}}, "config.url"),
        ({"name": "w", "kind": "webhook", "config": {}}, "config.url"),
        (
            {"name": "w", "kind": "webhook", "config": {"url": "http://x", "timeout_seconds": 0}},
            "config.timeout_seconds",
        ),
        (
            {"name": "m", "kind": "email", "config": {"recipients": ["nope"]}},
            "config.recipients[0]",
        ),
        ({"name": "f", "kind": "file", "config": {"path": "/tmp/x", "rotate": 1}}, "config.rotate"),
        ({"name": "c", "kind": "console", "min_level": "LOUD"}, "min_level"),
        ({"name": "c", "kind": "console", "components": ["kitchen"]}, "components"),
        (
            {
                "name": "c",
                "kind": "console",
                "time_window": {"start": "22:00", "end": "06:00", "timezone": "Mars/Base"},
            },
            "time_window.timezone",
        ),
        (
            {"name": "c", "kind": "console", "time_window": {"start": "9", "end": "06:00"}},
            "time_window.start",
        ),
    ],
)
def test_invalid_channel_names_the_field(
    client: SyncClient, body: dict[str, Any], field: str
) -> None:
    r = client.post("/api/dashboard/channels", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_channel_crud_masks_secrets_and_keeps_them(client: SyncClient) -> None:
    r = client.post("/api/dashboard/channels", json={
        "name": "hook", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/x",
        "secret": "s3cret"}, "min_level": "CRITICAL", "components": ["disk"],
        "time_window": {"start": "22:00", "end": "06:00", "timezone": "Europe/Paris"},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    ch = r.json()
    assert ch["config"]["secret"] == "********" and ch["stats"]["handled_total"] == 0
    r = client.request("PATCH", f"/api/dashboard/channels/{ch['id']}",
                       json={"enabled": False, "config": {"secret": "********"}})  # fmt: skip
    assert r.status_code == 200 and r.json()["enabled"] is False
    stored = client.run(ctx_of(client).db.read(lambda c: c.exec_driver_sql(
        "SELECT config FROM channels WHERE id = ?", (ch["id"],)).scalar_one()))  # fmt: skip
    assert "s3cret" not in stored  # encrypted at rest, kept through the masked PATCH
    box = ctx_of(client).extras[RUNTIME_KEY].mail.box
    assert open_config(stored, box)["secret"] == "s3cret"
    assert client.request("DELETE", f"/api/dashboard/channels/{ch['id']}").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "m", "scope": "everything"}, "scope"),
        ({"name": "m", "scope": "server", "starts_at": 0, "ends_at": 1}, "scope_value"),
        ({"name": "m", "scope": "all", "starts_at": 10, "ends_at": 5}, "ends_at"),
        (
            {
                "name": "m",
                "scope": "all",
                "kind": "weekly",
                "start_time": "22:00",
                "end_time": "02:00",
                "timezone": "Nowhere/City",
            },
            "timezone",
        ),
        ({"scope": "all", "starts_at": 0, "ends_at": 1}, "name"),
    ],
)
def test_invalid_window_names_the_field(
    client: SyncClient, body: dict[str, Any], field: str
) -> None:
    r = client.post("/api/dashboard/maintenance", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_maintenance_silences_and_per_server_thresholds_apply(client: SyncClient) -> None:
    quiet_id, quiet_headers = register(client, "quiet-01")
    loud_id, loud_headers = register(client, "loud-01")
    now = time.time()
    r = client.post("/api/dashboard/maintenance", json={
        "name": "patching", "scope": "server", "scope_value": quiet_id,
        "starts_at": now - 60, "ends_at": now + 3600,
    })  # fmt: skip
    assert r.status_code == 201 and r.json()["active_now"] is True
    r = client.request("PATCH", f"/api/dashboard/server/{loud_id}",
                       json={"thresholds": {"cpu_warning": 40, "cpu_critical": 90}})  # fmt: skip
    assert r.status_code == 200, r.text
    client.post("/api/metrics", json=snap(1, cpu_percent=60.0), headers=loud_headers)
    client.post("/api/metrics", json=snap(1, cpu_percent=99.0), headers=quiet_headers)
    loud = wait_for(lambda: [a for a in active(client) if a["server_id"] == loud_id])
    assert loud[0]["metric"] == "cpu_percent" and loud[0]["level"] == "WARNING"
    assert loud[0]["threshold"] == 40
    time.sleep(0.3)
    assert not [a for a in active(client) if a["server_id"] == quiet_id]


def test_dry_run_counts_firings_over_history(client: SyncClient) -> None:
    _server_id, headers = register(client)
    start = time.time() - 3 * 3600
    pattern = [10, 95, 96, 10, 10, 97, 10, 10, 92, 10]  # three excursions above 90
    body = {"snapshots": [snap(i, start + i * 600, cpu_percent=v) for i, v in enumerate(pattern)]}
    r = client.post("/api/metrics", json=body, headers=headers)
    assert r.status_code in (200, 201, 202), r.text
    rule = {"metric": "cpu_percent", "warning": 90, "cooldown_seconds": 0}
    r = client.post("/api/dashboard/alert-rules/dry-run", json={"rule": rule, "hours": 24})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["fired"] == 3 and result["samples"] == 10 and result["servers_evaluated"] == 1
    rule["duration_seconds"] = 600  # only the two-sample excursion lasts 10 minutes
    result = client.post("/api/dashboard/alert-rules/dry-run", json={"rule": rule}).json()
    assert result["fired"] == 1
    r = client.post("/api/dashboard/alert-rules/dry-run", json={"rule": {"metric": "offline",
                                                                "critical": 60}})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "metric"
    per_mount = {"metric": "disk_percent", "target": "/home", "warning": 60}
    result = client.post("/api/dashboard/alert-rules/dry-run", json={"rule": per_mount}).json()
    assert result["fired"] == 1 and result["events"][0]["target"] == "/home"


def test_dry_run_reads_history_older_than_raw_retention_from_rollups(
    client: SyncClient,
) -> None:
    """Snapshots past `raw_retention_hours` survive as 1-minute rollups, one value per minute
    for an agent sending every minute or less often: the dry run replays those too."""
    _server_id, headers = register(client)
    start = time.time() - 4 * 3600  # older than the 1-hour raw retention set below
    pattern = [10, 95, 10, 96, 10, 10]  # two excursions above 90, 10 minutes apart
    body = {"snapshots": [snap(i, start + i * 600, cpu_percent=v) for i, v in enumerate(pattern)]}
    assert client.post("/api/metrics", json=body, headers=headers).status_code == 200
    r = client.patch("/api/dashboard/settings", json={"raw_retention_hours": 1})
    assert r.status_code == 200, r.text
    r = client.delete("/api/dashboard/settings")
    assert r.status_code == 200, r.text
    rule = {"metric": "cpu_percent", "warning": 90, "cooldown_seconds": 0}
    result = client.post("/api/dashboard/alert-rules/dry-run", json={"rule": rule}).json()
    assert result["samples"] == 6 and result["fired"] == 2, result


def test_disk_forecast_from_history(client: SyncClient) -> None:
    server_id, headers = register(client)
    gib = 1024**3
    start = time.time() - 4 * 3600
    snaps = []
    for i in range(9):  # /data grows 1 GiB per 30 minutes; 100 GiB disk, ends at 58 GiB used
        used = (50 + i) * gib
        disk = make_disk("/data", total=100 * gib, used=used, free=100 * gib - used,
                         percent=used / gib)  # fmt: skip
        snaps.append(snap(i, start + i * 1800, disks=[disk]))
    r = client.post("/api/metrics", json={"snapshots": snaps}, headers=headers)
    assert r.status_code in (200, 201, 202), r.text
    disks = client.get(f"/api/dashboard/server/{server_id}/forecast").json()["disks"]
    data = next(d for d in disks if d["mountpoint"] == "/data")
    # 42 GiB free at 48 GiB/day -> 0.875 days
    assert data["days_until_full"] == pytest.approx(42 / 48, rel=0.01)
    assert data["reason"] is None


def test_a_rising_disk_with_too_short_a_history_says_why(client: SyncClient) -> None:
    """26.11: rising, but ten minutes of history: no days yet, and the reason says so."""
    from fleetwatch.hub.ui.server_overview import forecast_text

    server_id, headers = register(client)
    gib = 1024**3
    start = time.time() - 600
    snaps = []
    for i in range(6):  # +1 GiB every 2 minutes
        used = (50 + i) * gib
        disk = make_disk("/data", total=100 * gib, used=used, free=100 * gib - used,
                         percent=used / gib)  # fmt: skip
        snaps.append(snap(200 + i, start + i * 120, disks=[disk]))
    assert (
        client.post("/api/metrics", json={"snapshots": snaps}, headers=headers).status_code == 200
    )
    disks = client.get(f"/api/dashboard/server/{server_id}/forecast").json()["disks"]
    data = next(d for d in disks if d["mountpoint"] == "/data")
    assert data["days_until_full"] is None and data["growth_bytes_per_day"] > 0
    assert data["reason"] == "too_short_span"
    text, _color = forecast_text(data)
    assert "rising" in text and "forecast after 30 min" in text and "stable" not in text
