"""The engine's snapshot feed: every committed snapshot exactly once, whether this process
committed it (a local event) or another one did (read back from a real SQLite store); and the
timer's forecast rota."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from factories import make_snapshot
from fleetwatch.hub.alerts.feed import SnapshotFeed
from fleetwatch.hub.alerts.timers import ForecastRota
from fleetwatch.hub.store import codec
from fleetwatch.hub.store.tables import metadata, snapshots


def _engine(tmp_path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'f.db'}")
    metadata.create_all(engine)
    return engine


def _commit(engine: sa.Engine, server: str, cpu: float, row_id: int | None = None) -> int:
    doc = make_snapshot(metrics={"cpu_percent": cpu})
    values = {"server_id": server, "ts": cpu, "detail": codec.pack(doc)}
    with engine.begin() as conn:
        row = conn.execute(
            snapshots.insert().values(**values, **({"id": row_id} if row_id else {}))
        )
        assert row.inserted_primary_key is not None
        return int(row.inserted_primary_key[0])


def _poll(feed: SnapshotFeed, engine: sa.Engine) -> list[tuple[str, float]]:
    asked = feed.plan()
    with engine.connect() as conn:
        polled = feed.poll(conn, asked, ["cpu_percent"])
    return [(c.server_id, c.readings["cpu_percent"][0][1]) for c in feed.settle(asked, polled)]


def test_local_rows_are_never_read_back_foreign_rows_read_once(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _commit(engine, "before", 1.0)
    feed = SnapshotFeed(grace_seconds=0.0)
    with engine.connect() as conn:
        feed.start(conn)  # begins after what is stored
    mine = _commit(engine, "local", 10.0)
    theirs = _commit(engine, "other-worker", 20.0)
    mine_too = _commit(engine, "local", 11.0)
    assert feed.claim(mine) and feed.claim(mine_too)
    assert _poll(feed, engine) == []  # noticed: `theirs` waits for its grace period
    assert _poll(feed, engine) == [("other-worker", 20.0)]
    assert _poll(feed, engine) == [] and feed.rows_read == 1
    assert not feed.claim(theirs)  # a late local event for a row read back: not twice
    assert feed.after == mine_too and not feed.waiting


def test_a_local_event_arriving_during_the_grace_period_wins(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    feed = SnapshotFeed(grace_seconds=60.0)
    with engine.connect() as conn:
        feed.start(conn)
    row = _commit(engine, "local", 5.0)
    assert _poll(feed, engine) == [] and row in feed.waiting
    assert feed.claim(row)  # the event loop was busy: the event comes after the poll
    assert _poll(feed, engine) == [] and feed.rows_read == 0 and feed.after == row


def test_ids_never_committed_are_given_up_after_hole_seconds(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    feed = SnapshotFeed(grace_seconds=0.0, hole_seconds=0.0)
    with engine.connect() as conn:
        feed.start(conn)
    first = _commit(engine, "a", 1.0)
    last = _commit(engine, "b", 2.0, row_id=first + 2)  # first + 1: a rolled-back batch
    assert _poll(feed, engine) == []
    assert _poll(feed, engine) == [("a", 1.0), ("b", 2.0)]  # first + 1 missing: given up
    assert feed.after == last and not feed.waiting


def test_forecasts_are_spread_over_the_checks_each_server_once_per_interval() -> None:
    rota = ForecastRota(interval_seconds=900.0, check_seconds=15.0)
    fleet = [f"s{i}" for i in range(120)]
    seen: list[str] = []
    for tick in range(60):  # 15 minutes of checks
        due = rota.due(fleet, tick * 15.0)
        assert len(due) == 2  # 120 servers / 60 checks: no burst
        seen += due
    assert sorted(seen) == sorted(fleet)  # everyone exactly once per interval
    assert rota.due([*fleet, "new"], 900.0)[0] == "new"  # never forecast: first in line
