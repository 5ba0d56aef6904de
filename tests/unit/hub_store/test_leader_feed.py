"""Leader election locks (file lock, PostgreSQL advisory lock) and the alert engine's feed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert

from factories import make_snapshot
from fleetwatch.hub import leader
from fleetwatch.hub.alerts.feed import Committed, SnapshotFeed
from fleetwatch.hub.store import codec, tables
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.migrate import upgrade
from hubtest import postgres_schema


def test_file_lock_admits_one_holder_until_released(tmp_path: Path) -> None:
    path = tmp_path / "hub.db.leader"
    first, second = leader.FileLock(path), leader.FileLock(path)
    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire()  # another open file: refused, even in one process
    first.release()
    assert second.try_acquire()
    second.release()


def test_lock_for_picks_the_lock_of_the_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        lock = leader.lock_for(db)
        assert isinstance(lock, leader.FileLock) and lock.path == tmp_path / "hub.db.leader"
    finally:
        db.close()


@pytest.mark.postgres
def test_advisory_lock_admits_one_process_per_schema(postgres_url: str) -> None:
    with postgres_schema(postgres_url) as url, postgres_schema(postgres_url) as other_url:
        dbs = [Database(url), Database(url), Database(other_url)]
        try:
            a, b, c = (leader.AdvisoryLock(db) for db in dbs)
            assert a.try_acquire() and not b.try_acquire()
            assert c.try_acquire()  # another schema: another hub
            assert a.still_held()
            a.release()
            assert b.try_acquire()
            for lock in (b, c):
                lock.release()
        finally:
            for db in dbs:
                db.close()


def test_lead_takes_over_when_the_leader_releases(tmp_path: Path) -> None:
    path = tmp_path / "x.leader"
    holder = leader.FileLock(path)
    assert holder.try_acquire()
    events: list[str] = []

    async def start() -> None:
        events.append("start")

    async def stop() -> None:
        events.append("stop")

    async def scenario() -> None:
        task = asyncio.create_task(leader.lead(leader.FileLock(path), start, stop, 0.01))
        await asyncio.sleep(0.1)
        assert events == []  # a follower while somebody else leads
        holder.release()
        for _ in range(100):
            if events:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert events == ["start", "stop"]
    assert holder.try_acquire()  # the cancelled leader released the lock
    holder.release()


def _row(row_id: int, cpu: float) -> dict[str, object]:
    doc = make_snapshot(metrics={"cpu_percent": cpu})
    return {"id": row_id, "server_id": "s1", "ts": float(row_id), "detail": codec.pack(doc)}


def _poll(feed: SnapshotFeed, conn: Connection, metrics: list[str]) -> list[Committed]:
    asked = feed.plan()
    return feed.settle(asked, feed.poll(conn, asked, metrics))


def test_feed_reads_new_rows_once_and_late_rows_of_holes(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(db.engine)
    try:
        feed = SnapshotFeed(hole_seconds=60, grace_seconds=0.0)  # no local events here
        with db.engine.begin() as conn:
            conn.execute(insert(tables.snapshots), [_row(1, 10.0)])
            feed.start(conn)  # begins after what is already stored
            conn.execute(insert(tables.snapshots), [_row(2, 20.0), _row(4, 40.0)])
            assert _poll(feed, conn, ["cpu_percent"]) == []  # noticed, not claimed locally
            got = _poll(feed, conn, ["cpu_percent"])
            assert [c.readings["cpu_percent"] for c in got] == [[(None, 20.0)], [(None, 40.0)]]
            assert set(feed.waiting) == {3}  # a hole: asked for again
            assert _poll(feed, conn, ["cpu_percent"]) == []
            conn.execute(insert(tables.snapshots), [_row(3, 30.0), _row(5, 50.0)])
            got = _poll(feed, conn, ["cpu_percent", "disk_percent"])
            got += _poll(feed, conn, ["cpu_percent", "disk_percent"])
            assert [c.ts for c in got] == [3.0, 5.0] and not feed.waiting
            assert got[0].readings["disk_percent"] == [("/", 40.0), ("/home", 70.0)]
    finally:
        db.close()
