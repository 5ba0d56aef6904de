"""Revision 0008: snapshots keep one index, unique on (server_id, ts, snapshot_id).

A database at revision 0007 (two indexes) with stored snapshots is upgraded on both engines:
the rows and their ids are kept, only the new index is left, and replays are still refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text

from fleetwatch.hub.store import timeseries
from fleetwatch.hub.store.engine import make_engine
from fleetwatch.hub.store.migrate import _config, head_revision, upgrade
from fleetwatch.hub.store.tables import HOT_METRICS
from hubtest import postgres_schema


def _indexes(engine: Any) -> dict[str, list[str]]:
    """Every unique constraint and index on `snapshots`: name -> columns."""
    inspector = inspect(engine)
    found = {
        str(u["name"]): list(u["column_names"])
        for u in inspector.get_unique_constraints("snapshots")
    }
    found |= {str(i["name"]): list(i["column_names"]) for i in inspector.get_indexes("snapshots")}
    return found


def _row(ts: float, snapshot_id: str | None, stamped: bool = False) -> timeseries.SnapshotRow:
    hot = tuple(float(ts) if i == 0 else None for i in range(len(HOT_METRICS)))
    return timeseries.SnapshotRow("a", ts, snapshot_id, hot, b"d", stamped)


def _upgrade_and_check(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0007_open_hours")
            conn.execute(
                text(
                    "INSERT INTO servers (id, hostname, key_hash, key_prefix, created_at) "
                    "VALUES ('a', 'h', 'x', 'fwk_', 0)"
                )
            )
            old = timeseries.insert_snapshots(conn, [_row(1.0, "x1"), _row(2.0, None)])
        assert set(_indexes(engine)) == {"uq_snapshots_server_snapshot", "ix_snapshots_server_ts"}
        assert upgrade(engine) == ("0007_open_hours", head_revision())
        assert _indexes(engine) == {"ux_snapshots_server_ts_id": ["server_id", "ts", "snapshot_id"]}
        with engine.begin() as conn:
            again = timeseries.insert_snapshots(
                conn, [_row(1.0, "x1"), _row(3.0, "x1", stamped=True), _row(4.0, "x4")]
            )
            stored = conn.execute(text("SELECT id, snapshot_id, ts FROM snapshots ORDER BY id"))
            rows = [tuple(r) for r in stored]
    finally:
        engine.dispose()
    assert again[:2] == [None, None] and again[2] is not None and again[2] > max(old)  # type: ignore[operator]
    assert rows == [(old[0], "x1", 1.0), (old[1], None, 2.0), (again[2], "x4", 4.0)]


def test_upgrade_to_one_snapshot_index_keeps_rows_and_refuses_replays_sqlite(
    tmp_path: Path,
) -> None:
    _upgrade_and_check(f"sqlite:///{tmp_path / 'k.db'}")


@pytest.mark.postgres
def test_upgrade_to_one_snapshot_index_keeps_rows_and_refuses_replays_postgresql(
    postgres_url: str,
) -> None:
    with postgres_schema(postgres_url) as url:
        _upgrade_and_check(url)


def test_downgrade_restores_the_two_indexes_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        upgrade(engine)
        with engine.begin() as conn:
            command.downgrade(_config(conn), "0007_open_hours")
        assert _indexes(engine) == {
            "uq_snapshots_server_snapshot": ["server_id", "snapshot_id"],
            "ix_snapshots_server_ts": ["server_id", "ts"],
        }
    finally:
        engine.dispose()
