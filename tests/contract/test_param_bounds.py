"""Integers beyond 64 bits, NUL bytes and absurd magnitudes: a 422 (or 404) naming the field,
never a 500 (issue 26.9; schemathesis found them, `test_schemathesis.py` keeps them closed)."""

from __future__ import annotations

import json

import pytest

from factories import make_snapshot
from hubtest import register
from unit.hub_query.harness import Hub

HUGE = 2**64 + 1
BASE = "/api/dashboard"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{BASE}/alert-rules/{HUGE}"),
        ("PATCH", f"{BASE}/alert-rules/{HUGE}"),
        ("DELETE", f"{BASE}/alert-rules/{HUGE}"),
        ("GET", f"{BASE}/channels/{HUGE}"),
        ("PATCH", f"{BASE}/channels/{HUGE}"),
        ("DELETE", f"{BASE}/channels/{HUGE}"),
        ("PATCH", f"{BASE}/maintenance/{HUGE}"),
        ("DELETE", f"{BASE}/maintenance/{HUGE}"),
        ("DELETE", f"{BASE}/tokens/{HUGE}"),
        ("GET", f"{BASE}/alerts/history?offset={HUGE}"),
        ("GET", f"{BASE}/audit?offset={HUGE}"),
    ],
)
def test_ids_and_offsets_beyond_64_bits_are_422(hub: Hub, method: str, path: str) -> None:
    body = {"name": "x"} if method == "PATCH" else None
    response = hub.client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "less than or equal to 9223372036854775807" in error["message"]


def test_the_largest_id_is_a_plain_404(hub: Hub) -> None:
    response = hub.client.get(f"{BASE}/alert-rules/{2**63 - 1}")
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/alert-rules", {"name": "cpu\u0000", "metric": "cpu_percent"}, "name"),
        ("/channels", {"name": "ops", "type": "webhook", "config": {"url": "http://x\u0000"}},
         "config.url"),
        ("/alerts", {"alert_id": HUGE}, "alert_id"),
        ("/notifications", {"notification_id": -HUGE}, "notification_id"),
        ("/alert-rules", {"name": "cpu", "threshold": 1e300}, "threshold"),
    ],
)  # fmt: skip
def test_nul_and_huge_numbers_in_bodies_are_422(
    hub: Hub, path: str, body: dict[str, object], field: str
) -> None:
    method = "PATCH" if path in ("/alerts", "/notifications") else "POST"
    response = hub.client.request(method, BASE + path, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["message"]


def _snapshot_with(path: tuple[str | int, ...], value: object) -> dict[str, object]:
    body: dict[str, object] = make_snapshot()
    node: object = body
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return body


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("metrics", "memory_total"), 10**40, "metrics.memory_total: Input should be less than"),
        (("metrics", "memory_total"), 1e40, "metrics.memory_total"),
        (("metrics", "uptime_seconds"), 1e300, "metrics.uptime_seconds: Input should be less"),
        (("metrics", "disks", 0, "mountpoint"), "/data\u0000",
         "metrics.disks[0].mountpoint: must not contain NUL"),
        (("snapshot_id",), "\u0000", "snapshot_id: must not contain NUL"),
        (("system", "hostname"), "web\u0000", "system.hostname: must not contain NUL"),
    ],
)  # fmt: skip
def test_snapshots_with_nul_or_absurd_numbers_are_422(
    hub: Hub, path: tuple[str | int, ...], value: object, message: str
) -> None:
    _, headers = register(hub.client)
    body = _snapshot_with(path, value)
    response = hub.client.post("/api/metrics", content=json.dumps(body), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(message), response.text
    assert hub.client.post("/api/metrics", json=make_snapshot(), headers=headers).status_code == 200


def test_registration_and_live_samples_refuse_nul(hub: Hub) -> None:
    response = hub.client.post("/api/register", json={"hostname": "web\u0000"})
    assert response.status_code == 422, response.text
    assert "hostname: must not contain NUL" in response.json()["error"]["message"]
    _, headers = register(hub.client)
    live = {"cpu_percent": 1.0, "memory_percent": 2.0, "sample_id": "a\u0000"}
    response = hub.client.post("/api/metrics/live", json=live, headers=headers)
    assert response.status_code == 422, response.text
    assert "sample_id: must not contain NUL" in response.json()["error"]["message"]


def test_nul_in_query_or_path_is_422_not_a_database_error(hub: Hub) -> None:
    """Schemathesis found `?server_id=a%00b` a 500 on PostgreSQL (it refuses NUL in text)."""
    for url in (
        "/api/dashboard/alerts/history?server_id=a%00b",
        "/api/dashboard/audit?actor=x%00",
        "/api/dashboard/server/abc%00def",
    ):
        r = hub.client.get(url)
        assert r.status_code == 422, (url, r.text)
        assert "NUL" in r.json()["error"]["message"]
    assert hub.client.get("/api/dashboard/alerts/history?server_id=plain").status_code == 200
