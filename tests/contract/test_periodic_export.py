"""Contract: the periodic export (H18) — settings, files written, rotation, download, roles."""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import pytest

from authhelp import token_for
from factories import make_snapshot
from fleetwatch.hub.services import export_schedule
from unit.hub_query.harness import Hub, insert_series, insert_server


@pytest.fixture
def fleet(hub: Hub) -> str:
    now = time.time()
    server = insert_server(hub.engine, hostname="web-01", last_seen=now, snapshot=make_snapshot())
    insert_series(hub.engine, server, [(now - 60 * i, {"cpu_percent": 10.0 + i}) for i in (1, 2)])
    return server


def _settings(hub: Hub, **changes: object) -> None:
    r = hub.client.patch("/api/dashboard/settings", json=changes)
    assert r.status_code == 200, r.text


def test_export_now_writes_a_gzipped_json_file_and_serves_it(hub: Hub, fleet: str) -> None:
    assert hub.client.get("/api/dashboard/exports").json()["files"] == []
    r = hub.client.post("/api/dashboard/exports")
    assert r.status_code == 201, r.text
    name = r.json()["name"]
    assert name.endswith(".json.gz") and r.json()["range_hours"] == 24
    listed = hub.client.get("/api/dashboard/exports").json()["files"]
    assert [f["name"] for f in listed] == [name] and listed[0]["size_bytes"] > 0
    download = hub.client.get(f"/api/dashboard/exports/{name}")
    assert download.status_code == 200
    data = json.loads(gzip.decompress(download.content))
    assert [s["id"] for s in data["servers"]] == [fleet]
    assert [p["cpu_percent"] for p in data["servers"][0]["history"]] == [12.0, 11.0]
    assert not list(export_schedule.export_dir(hub.ctx).glob("*.part"))
    audit = hub.client.get("/api/dashboard/audit").json()
    entries = audit["entries"] if isinstance(audit, dict) else audit
    assert any(e["action"] == "data.export" and e["target"] == name for e in entries)


def test_settings_choose_format_compression_and_rotation(hub: Hub, fleet: str) -> None:
    _settings(hub, export_format="csv", export_gzip=False, export_keep_files=2)
    names = [hub.client.post("/api/dashboard/exports").json()["name"] for _ in range(3)]
    assert all(n.endswith(".csv") for n in names)
    kept = [f["name"] for f in hub.client.get("/api/dashboard/exports").json()["files"]]
    assert sorted(kept) == sorted(names[1:])  # the oldest went
    text = hub.client.get(f"/api/dashboard/exports/{names[2]}").text
    assert text.splitlines()[0].startswith("server_id,hostname")
    for bad in ({"export_interval_hours": -1}, {"export_keep_files": 0}, {"export_format": "xml"}):
        r = hub.client.patch("/api/dashboard/settings", json=bad)
        assert r.status_code == 422, bad


def test_the_schedule_writes_when_due_and_not_before(hub: Hub, fleet: str) -> None:
    folder = export_schedule.export_dir(hub.ctx)

    async def one_check() -> None:
        task = asyncio.create_task(export_schedule.run_periodic(hub.ctx, check_seconds=30))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if export_schedule.list_exports(folder):
                break
        task.cancel()

    hub.client.run(one_check())
    assert export_schedule.list_exports(folder) == []  # off by default
    _settings(hub, export_interval_hours=6)
    hub.client.run(one_check())
    first = export_schedule.list_exports(folder)
    assert len(first) == 1
    hub.client.run(one_check())
    assert export_schedule.list_exports(folder) == first  # not due again for 6 h


def test_names_are_checked_and_roles_enforced(hub: Hub, fleet: str) -> None:
    for name in ("..%2Fhub.db", "hub.db", "fleetwatch-export-x.json", "secret.key"):
        r = hub.client.get(f"/api/dashboard/exports/{name}")
        assert r.status_code == 404, name
    viewer = {"Authorization": f"Bearer {hub.client.run(token_for(hub.ctx, 'viewer', 'v1'))}"}
    assert hub.client.get("/api/dashboard/exports", headers=viewer).status_code == 200
    assert hub.client.post("/api/dashboard/exports", headers=viewer).status_code == 403
