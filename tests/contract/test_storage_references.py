"""Snapshots are compressed against their server's own reference (`S` format), on SQLite and
PostgreSQL: smaller rows, every row still readable after a restart, gone with the server."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from factories import at, make_snapshot
from fleetwatch.hub.store import codec, references, tables
from hubtest import register
from unit.hub_query.harness import Hub, running_hub

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def _snapshot(i: int, **overrides: Any) -> dict[str, Any]:
    snap = make_snapshot(snapshot_id=f"ref-{i}", collected_at=at(60 * i), **overrides)
    snap["metrics"]["cpu_percent"] = 10.0 + i
    return snap


def _details(engine: Engine, server_id: str) -> list[tuple[str, bytes]]:
    s = tables.snapshots.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.snapshot_id, s.detail).where(s.server_id == server_id).order_by(s.ts)
        ).all()
    return [(r.snapshot_id, bytes(r.detail)) for r in rows]


def _reference_count(engine: Engine, server_id: str) -> int:
    c = tables.codec_refs.c
    with engine.connect() as conn:
        return len(conn.execute(select(c.key).where(c.server_id == server_id)).all())


def test_snapshots_after_the_first_are_packed_against_the_servers_reference(hub: Hub) -> None:
    sid, agent = register(hub.client)
    for i in range(4):
        r = hub.client.post("/api/metrics", json=_snapshot(i), headers=agent)
        assert r.status_code == 200, r.text
    details = _details(hub.engine, sid)
    assert [d[:1] for _, d in details] == [b"Z", b"S", b"S", b"S"]
    assert len(details[3][1]) < 0.7 * len(details[0][1]), [len(d) for _, d in details]
    assert _reference_count(hub.engine, sid) == 1
    # read back through the database (no cached reference), every row whole
    codec._references.clear()
    for i, (snapshot_id, blob) in enumerate(details):
        doc = codec.unpack(blob)
        assert doc["snapshot_id"] == snapshot_id and doc["metrics"]["cpu_percent"] == 10.0 + i
        assert [p["name"] for p in doc["processes"]] == ["postgres", "python3"]
    server = hub.client.get(f"/api/dashboard/server/{sid}")
    assert server.status_code == 200, server.text
    assert "postgres" in server.text


def test_a_restarted_hub_reuses_the_stored_reference_and_reads_old_rows(
    hub: Hub, tmp_path: Any
) -> None:
    sid, agent = register(hub.client)
    for i in range(2):
        assert hub.client.post("/api/metrics", json=_snapshot(i), headers=agent).status_code == 200
    url = str(hub.engine.url.render_as_string(hide_password=False))
    codec._references.clear()
    with running_hub(url, tmp_path / "again") as again:
        assert (
            again.client.post("/api/metrics", json=_snapshot(2), headers=agent).status_code == 200
        )
        assert (
            again.client.post("/api/metrics", json=_snapshot(3), headers=agent).status_code == 200
        )
        details = _details(again.engine, sid)
        # the new process packs one snapshot plainly while it fetches the reference, no new one
        assert [d[:1] for _, d in details] == [b"Z", b"S", b"Z", b"S"]
        assert _reference_count(again.engine, sid) == 1
        assert codec.unpack(details[1][1])["snapshot_id"] == "ref-1"


def test_a_changed_server_gets_a_new_reference_and_deleting_it_removes_them(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(references, "RENEW_AFTER_SECONDS", 0.0)
    sid, agent = register(hub.client)
    for i in range(3):
        assert hub.client.post("/api/metrics", json=_snapshot(i), headers=agent).status_code == 200
    changed = _snapshot(3)
    changed["processes"] = [
        {"pid": 1000 + n, "name": f"worker-{n}-{'x' * 40}", "cpu_percent": n / 10}
        for n in range(40)
    ]
    assert hub.client.post("/api/metrics", json=changed, headers=agent).status_code == 200
    assert _reference_count(hub.engine, sid) == 2
    codec._references.clear()
    assert all(codec.unpack(blob)["snapshot_id"] == i for i, blob in _details(hub.engine, sid))
    deleted = hub.client.delete(f"/api/dashboard/server/{sid}")
    assert deleted.status_code == 200, deleted.text
    assert _reference_count(hub.engine, sid) == 0
