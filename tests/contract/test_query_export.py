"""Contract: `GET /api/dashboard/export` (H18) as JSON and CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import time

import pytest

from factories import make_snapshot
from fleetwatch.hub.services.export import csv_header, safe_cell
from unit.hub_query.harness import Hub, insert_series, insert_server

EVIL = '=HYPERLINK("http://x","a, b")'


@pytest.fixture
def fleet(hub: Hub) -> dict[str, str]:
    now = time.time()
    a = insert_server(
        hub.engine, hostname="web-01", group_name="web", last_seen=now, snapshot=make_snapshot()
    )
    b = insert_server(hub.engine, hostname=EVIL, display_name="-2+3", last_seen=now)
    insert_series(hub.engine, a, [(now - 60 * i, {"cpu_percent": 10.0 + i}) for i in range(1, 6)])
    insert_series(hub.engine, b, [(now - 3600 * 30, {"cpu_percent": 1.0})])
    return {"a": a, "b": b}


def test_csv_export_is_a_safe_download(hub: Hub, fleet: dict[str, str]) -> None:
    r = hub.client.get("/api/dashboard/export", params={"format": "csv", "hours": 24})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and ".csv" in disposition
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == csv_header()
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(body) == 5  # server b's only sample is 30 h old
    assert {row["hostname"] for row in body} == {"web-01"}
    assert all(row["resolution"] == "raw" for row in body)
    assert sorted(float(row["cpu_percent"]) for row in body) == [11.0, 12.0, 13.0, 14.0, 15.0]
    week = hub.client.get("/api/dashboard/export", params={"format": "csv", "hours": 48})
    rows = list(csv.reader(io.StringIO(week.text)))
    evil = [row for row in rows if row[0] == fleet["b"]]
    assert len(evil) == 1
    assert evil[0][1] == "'" + EVIL  # never evaluated as a formula, commas/quotes intact
    assert evil[0][2] == "'-2+3"


def test_json_export_has_every_server_with_history(hub: Hub, fleet: dict[str, str]) -> None:
    r = hub.client.get("/api/dashboard/export", params={"format": "json", "hours": 168})
    assert r.status_code == 200
    data = r.json()
    assert data["hours"] == 168 and data["resolution"] == "1m"
    servers = {s["id"]: s for s in data["servers"]}
    assert set(servers) == set(fleet.values())
    a = servers[fleet["a"]]
    assert a["latest"]["metrics"]["cpu_percent"] == 23.5
    assert [p["cpu_percent"] for p in a["history"]] == [15.0, 14.0, 13.0, 12.0, 11.0]
    assert servers[fleet["b"]]["hostname"] == EVIL
    assert len(servers[fleet["b"]]["history"]) == 1


def test_export_tier_can_be_chosen(hub: Hub, fleet: dict[str, str]) -> None:
    r = hub.client.get("/api/dashboard/export", params={"hours": 48, "resolution": "1h"})
    data = r.json()
    assert data["resolution"] == "1h"
    a = next(s for s in data["servers"] if s["id"] == fleet["a"])
    assert 1 <= len(a["history"]) <= 2
    point = a["history"][0]
    assert point["cpu_percent_min"] <= point["cpu_percent"] <= point["cpu_percent_max"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"format": "xml"}, "format"), ({"hours": 0}, "hours"), ({"resolution": "5m"}, "resolution")],
)
def test_export_bad_parameters(hub: Hub, params: dict[str, str], field: str) -> None:
    r = hub.client.get("/api/dashboard/export", params=params)
    assert r.status_code == 422 and r.json()["error"]["field"] == field


def test_empty_fleet_exports_cleanly(hub: Hub) -> None:
    assert hub.client.get("/api/dashboard/export").json()["servers"] == []
    text = hub.client.get("/api/dashboard/export", params={"format": "csv"}).text
    assert text.strip() == ",".join(csv_header())


def test_safe_cell() -> None:
    assert safe_cell("@SUM(1)") == "'@SUM(1)"
    assert safe_cell("\tx") == "'\tx"
    assert safe_cell("web-01") == "web-01"
    assert safe_cell(-1.5) == -1.5
