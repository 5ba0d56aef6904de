"""A snapshot's `collected_at` is believed only near the hub's clock (26.9): year 9999 no longer
pins a server's latest state forever, year 0001 is refused, and nothing of a request with one
bad time is stored."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from factories import make_snapshot
from unit.hub_query.harness import Hub


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _server(hub: Hub) -> tuple[str, dict[str, str]]:
    r = hub.client.post("/api/register", json={"hostname": "clocky"})
    body = r.json()
    return body["server_id"], {"Authorization": f"Bearer {body['server_id']}:{body['api_key']}"}


def test_times_far_from_the_hubs_clock_are_refused_and_nothing_is_stored(hub: Hub) -> None:
    server_id, headers = _server(hub)
    now = time.time()
    for when, words in [
        ("9999-12-31T23:59:59+00:00", "ahead of the hub's clock"),
        ("0001-01-01T00:00:00+00:00", "before the hub's clock"),
        (iso(now + 2 * 86400), "ahead of the hub's clock"),
        (iso(now - 3 * 86400), "older than the store keeps"),  # raw retention is 48 h
    ]:
        body = make_snapshot(snapshot_id=f"bad-{when}", collected_at=when)
        r = hub.client.post("/api/metrics", json=body, headers=headers)
        assert r.status_code == 422, (when, r.text)
        error = r.json()["error"]
        assert error["field"] == "collected_at" and words in error["message"], error
    good = make_snapshot(snapshot_id="good", collected_at=iso(now - 60))
    bad = make_snapshot(snapshot_id="bad", collected_at="9999-01-01T00:00:00Z")
    r = hub.client.post("/api/metrics", json={"snapshots": [good, bad]}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "snapshots[1].collected_at"
    history = hub.client.get(f"/api/dashboard/server/{server_id}").json()
    assert history["latest"] is None  # not even the good half was stored
    live = {"collected_at": "9999-12-31T00:00:00Z", "cpu_percent": 1.0, "memory_percent": 2.0}
    r = hub.client.post("/api/metrics/live", json=live, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "collected_at"


def test_a_clock_that_ran_ahead_does_not_freeze_the_latest_state(hub: Hub) -> None:
    server_id, headers = _server(hub)
    now = time.time()
    ahead = make_snapshot(snapshot_id="ahead", collected_at=iso(now + 6 * 3600))  # within 1 day
    ahead["metrics"]["cpu_percent"] = 99.0
    assert hub.client.post("/api/metrics", json=ahead, headers=headers).status_code == 200
    fixed = make_snapshot(snapshot_id="fixed", collected_at=iso(now))  # the clock was corrected
    fixed["metrics"]["cpu_percent"] = 12.0
    assert hub.client.post("/api/metrics", json=fixed, headers=headers).status_code == 200
    latest = hub.client.get(f"/api/dashboard/server/{server_id}").json()["latest"]
    assert latest["metrics"]["cpu_percent"] == 12.0
    replay = make_snapshot(snapshot_id="replay", collected_at=iso(now - 600))
    replay["metrics"]["cpu_percent"] = 50.0
    assert hub.client.post("/api/metrics", json=replay, headers=headers).status_code == 200
    latest = hub.client.get(f"/api/dashboard/server/{server_id}").json()["latest"]
    assert latest["metrics"]["cpu_percent"] == 12.0  # an older replay still never hides it
