"""Issue 22.4 (B8): log rules through a real in-process hub on SQLite and PostgreSQL: rules
are validated and audited, shipped lines that match raise one alert per server through the
engine's alert rows and channels (in-app notifications), more matches count without notifying
inside the cooldown, a quiet rule resolves, and the dry run counts matches over stored lines."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from fleetwatch.hub.services import logrules
from hubtest import SyncClient, ctx_of, postgres_schema, register, sync_hub_client


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SyncClient]:
    with ExitStack() as stack:
        url = None
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema(request.getfixturevalue("postgres_url")))
        yield stack.enter_context(sync_hub_client(tmp_path, url, rate_limit_per_minute=0))


def ship(client: SyncClient, auth: dict[str, str], *lines: tuple[str, str, str, float]) -> None:
    body = {
        "batch_id": uuid.uuid4().hex,
        "lines": [
            {"ts": ts, "app": app, "source": "/var/log/x", "level": level, "message": message}
            for app, level, message, ts in lines
        ],
    }
    r = client.post("/api/logs", json=body, headers=auth)
    assert r.status_code == 200, r.text


def log_alerts(client: SyncClient, state: str = "open") -> list[dict[str, Any]]:
    r = client.get("/api/dashboard/alerts/history", params={"state": state})
    assert r.status_code == 200, r.text
    return [a for a in r.json()["alerts"] if a["metric"] == "log_match"]


def wait_for(fn: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := fn():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_rules_are_validated_changed_and_audited(client: SyncClient) -> None:
    r = client.post("/api/log-rules", json={"kind": "regex", "pattern": "payment (failed"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "pattern", r.text
    assert "regular expression" in r.json()["error"]["message"]
    for body, field in (
        ({"kind": "glob", "pattern": "x"}, "kind"),
        ({"pattern": ""}, "pattern"),
        ({"pattern": "x", "min_level": "loud"}, "min_level"),
        ({"pattern": "x", "alert_level": "INFO"}, "alert_level"),
        ({"pattern": "x", "cooldown_seconds": -1}, "cooldown_seconds"),
        ({"pattern": "x", "colour": "red"}, "colour"),
        ({"pattern": "x" * 513}, "pattern"),
        ({"kind": "regex", "pattern": "a{99999999999}"}, "pattern"),
        ({"kind": "regex", "pattern": "(?<=a+)b"}, "pattern"),
    ):
        r = client.post("/api/log-rules", json=body)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (body, r.text)
    assert client.get("/api/log-rules").json() == []  # nothing half-written

    r = client.post(
        "/api/log-rules",
        json={"name": "Payments", "pattern": "payment failed", "app": "shop", "min_level": "error"},
    )
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["kind"] == "text" and rule["min_level"] == "error"
    assert rule["alert_level"] == "WARNING" and rule["cooldown_seconds"] == 300.0
    r = client.patch(f"/api/log-rules/{rule['id']}", json={"alert_level": "CRITICAL"})
    assert r.status_code == 200 and r.json()["alert_level"] == "CRITICAL"
    assert r.json()["pattern"] == "payment failed"  # merged, not replaced
    assert client.get("/api/log-rules/999").status_code == 404
    assert client.delete(f"/api/log-rules/{rule['id']}").json() == {"success": True}
    assert client.get("/api/log-rules").json() == []
    actions = [e["action"] for e in client.get("/api/dashboard/audit").json()["entries"]]
    assert {"log_rule.create", "log_rule.update", "log_rule.delete"} <= set(actions)


def test_matching_lines_raise_one_alert_per_server_with_cooldown(client: SyncClient) -> None:
    web, web_auth = register(client, "web-01")
    db, db_auth = register(client, "db-01")
    rule = client.post(
        "/api/log-rules",
        json={
            "name": "Payments failing",
            "pattern": "Payment FAILED",
            "app": "shop",
            "min_level": "error",
            "alert_level": "CRITICAL",
            "cooldown_seconds": 300,
        },
    ).json()
    now = time.time()
    ship(
        client,
        web_auth,
        ("shop", "info", "payment failed, retrying", now),  # below level
        ("cart", "error", "payment failed", now),
    )  # another app
    ship(client, db_auth, ("shop", "error", "all good", now))
    assert log_alerts(client) == []

    ship(
        client,
        web_auth,
        ("shop", "error", "payment failed for order 17 <b>", now),
        ("shop", "critical", "PAYMENT FAILED for order 18", now),
    )
    (alert,) = wait_for(lambda: log_alerts(client))
    assert alert["server_id"] == web and alert["level"] == "CRITICAL"
    assert alert["component"] == "logs" and alert["value"] == 2.0
    assert alert["message"] == 'Log rule "Payments failing" matched in shop: ' + (
        "payment failed for order 17 <b>"
    )
    notes = wait_for(
        lambda: [
            n
            for n in client.get("/api/dashboard/notifications").json()
            if "Payments failing" in n["message"]
        ]
    )
    assert len(notes) == 1

    ship(client, web_auth, ("shop", "error", "payment failed again", now + 1))
    (alert,) = wait_for(lambda: [a for a in log_alerts(client) if a["value"] == 3.0])
    assert alert["notify_count"] == 1  # inside the cooldown: counted, not notified again
    time.sleep(0.3)
    notes = client.get("/api/dashboard/notifications").json()
    assert len([n for n in notes if "Payments failing" in n["message"]]) == 1
    assert all(a["server_id"] != db for a in log_alerts(client))

    ctx = ctx_of(client)
    assert client.run(logrules.resolve_quiet(ctx, now=time.time() + 10)) == 0  # not quiet yet
    assert client.run(logrules.resolve_quiet(ctx, now=time.time() + 301)) == 1
    assert log_alerts(client) == []
    (closed,) = log_alerts(client, "resolved")
    assert closed["id"] == alert["id"] and closed["rule_id"] == rule["id"]


def test_a_disabled_or_deleted_rule_stops_matching_and_its_alert_resolves(
    client: SyncClient,
) -> None:
    _, auth = register(client, "app-01")
    rule = client.post(
        "/api/log-rules",
        json={"kind": "regex", "pattern": r"OOM|out of memory", "case_sensitive": True},
    ).json()
    ship(client, auth, ("kernel", "info", "Out of memory: killed process 42", time.time()))
    assert log_alerts(client) == []  # case-sensitive: no match
    ship(client, auth, ("kernel", "info", "OOM killer: killed process 42", time.time()))
    wait_for(lambda: log_alerts(client))
    client.patch(f"/api/log-rules/{rule['id']}", json={"enabled": False})
    assert client.run(logrules.resolve_quiet(ctx_of(client))) == 1
    ship(client, auth, ("kernel", "info", "OOM again", time.time()))
    time.sleep(0.2)
    assert log_alerts(client) == []


def test_dry_run_counts_matches_and_alerts_over_stored_lines(client: SyncClient) -> None:
    web, web_auth = register(client, "web-01")
    _, db_auth = register(client, "db-01")
    now = time.time()
    # 37 matches on web-01 in 24 h: bursts 2 h apart (one alert each with a 10-min cooldown)
    lines = [
        ("nginx", "error", f"upstream timed out ({i})", now - 3600 * 2 * (i // 5) - i)
        for i in range(37)
    ]
    lines += [("nginx", "info", "request served", now - 60)] * 20
    lines += [("nginx", "error", "upstream timed out (old)", now - 30 * 3600)]  # outside 24 h
    ship(client, web_auth, *lines)
    ship(client, db_auth, ("pg", "error", "upstream timed out", now - 5))
    body = {"pattern": "upstream timed out", "app": "nginx", "cooldown_seconds": 600}
    r = client.post("/api/log-rules/dry-run", json={**body, "hours": 24})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["matches"] == 37 and got["would_fire"] == 8
    assert got["summary"] == "would have matched 37 times in 24 h (8 alerts fired)"
    assert got["servers"] == [
        {"server_id": web, "hostname": "web-01", "matches": 37, "would_fire": 8}
    ]
    assert got["samples"][0]["message"] == "upstream timed out (0)" and len(got["samples"]) == 10
    assert got["scanned"] == 57 and got["truncated"] is False
    assert client.get("/api/log-rules").json() == []  # a dry run saves nothing

    r = client.post("/api/log-rules/dry-run", json={"rule": {"pattern": "timed out"}, "hours": 48})
    assert r.json()["matches"] == 39
    for bad, field in (
        ({**body, "hours": 0}, "hours"),
        ({"kind": "regex", "pattern": "("}, "pattern"),
    ):
        r = client.post("/api/log-rules/dry-run", json=bad)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
