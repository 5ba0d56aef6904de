"""Live on demand (A6): watching a server makes every agent answer ask for live samples."""

from __future__ import annotations

import pytest

from factories import make_snapshot
from fleetwatch.hub.services.live_demand import demand
from hubtest import register
from unit.hub_query.harness import Hub


def test_nobody_watching_means_no_live_request(hub: Hub) -> None:
    _sid, agent = register(hub.client)
    ping = hub.client.post("/api/ping", headers=agent)
    assert ping.status_code == 200 and "live" not in ping.json()
    sent = hub.client.post("/api/metrics", json=make_snapshot(), headers=agent)
    assert "live" not in sent.json()


def test_a_watch_reaches_the_agent_in_ping_snapshot_and_live_answers(hub: Hub) -> None:
    sid, agent = register(hub.client)
    _other_sid, other_agent = register(hub.client)
    watched = hub.client.post(f"/api/dashboard/server/{sid}/live/watch", params={"seconds": 60})
    assert watched.status_code == 200, watched.text
    for answer in (
        hub.client.post("/api/ping", headers=agent),
        hub.client.post("/api/metrics", json=make_snapshot(snapshot_id="w-1"), headers=agent),
        hub.client.post(
            "/api/metrics/live", json={"cpu_percent": 5.0, "memory_percent": 10.0}, headers=agent
        ),
    ):
        assert answer.status_code == 200, answer.text
        live = answer.json()["live"]
        assert live["interval_seconds"] == 1 and 50 < live["seconds"] <= 60
    # another server's agent is not asked
    assert "live" not in hub.client.post("/api/ping", headers=other_agent).json()
    # a shorter watch never cuts a longer one short
    again = hub.client.post(f"/api/dashboard/server/{sid}/live/watch", params={"seconds": 10})
    assert again.json()["live_until"] == watched.json()["live_until"]


@pytest.mark.parametrize("seconds", [5, 601, "soon"])
def test_watch_bounds_and_unknown_server(hub: Hub, seconds: object) -> None:
    sid, _agent = register(hub.client)
    bad = hub.client.post(f"/api/dashboard/server/{sid}/live/watch", params={"seconds": seconds})
    assert bad.status_code == 422 and bad.json()["error"]["field"]
    missing = hub.client.post("/api/dashboard/server/nope/live/watch")
    assert missing.status_code == 404


def test_demand_ends_when_the_watch_ends() -> None:
    assert demand(None, now=100.0) is None
    assert demand(100.0, now=100.0) is None
    assert demand(130.0, now=100.0) == {"seconds": 30.0, "interval_seconds": 1}
