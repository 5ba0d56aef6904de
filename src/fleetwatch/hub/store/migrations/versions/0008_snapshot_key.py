"""Snapshots keep one index, unique on (server_id, ts, snapshot_id), instead of two.

Before this revision `snapshots` had a unique constraint on (server_id, snapshot_id), for
replays, and an index on (server_id, ts), for time ranges: every stored snapshot wrote a leaf
page of each. A replayed snapshot repeats its collected_at as well as its id, so the one index
serves both (`timeseries.insert_snapshots`; one sent without collected_at is checked by id).

SQLite cannot drop a table's constraint: the table is rebuilt (copied) once, which takes about
as long as copying the database file. PostgreSQL drops and creates indexes.

Revision ID: 0008_snapshot_key
Revises: 0007_open_hours
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_snapshot_key"
down_revision = "0007_open_hours"
branch_labels = None
depends_on = None

OLD_UNIQUE = "uq_snapshots_server_snapshot"
OLD_INDEX = "ix_snapshots_server_ts"
NEW_INDEX = "ux_snapshots_server_ts_id"


def _state() -> tuple[set[str], set[str]]:
    """(unique constraint names, index names) of `snapshots` now."""
    inspector = sa.inspect(op.get_bind())
    uniques = {str(u["name"]) for u in inspector.get_unique_constraints("snapshots")}
    indexes = {str(i["name"]) for i in inspector.get_indexes("snapshots")}
    return uniques, indexes


def upgrade() -> None:
    uniques, indexes = _state()  # a database made by `create_all` may have the new form
    if op.get_bind().dialect.name == "sqlite":
        if OLD_UNIQUE in uniques or OLD_INDEX in indexes or NEW_INDEX not in indexes:
            with op.batch_alter_table("snapshots", recreate="always") as batch:
                if OLD_UNIQUE in uniques:
                    batch.drop_constraint(OLD_UNIQUE, type_="unique")
                if OLD_INDEX in indexes:
                    batch.drop_index(OLD_INDEX)
                if NEW_INDEX not in indexes:
                    batch.create_index(NEW_INDEX, ["server_id", "ts", "snapshot_id"], unique=True)
        return
    if NEW_INDEX not in indexes:
        op.create_index(NEW_INDEX, "snapshots", ["server_id", "ts", "snapshot_id"], unique=True)
    if OLD_UNIQUE in uniques:
        op.drop_constraint(OLD_UNIQUE, "snapshots", type_="unique")
    if OLD_INDEX in indexes:
        op.drop_index(OLD_INDEX, table_name="snapshots")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("snapshots", recreate="always") as batch:
            batch.drop_index(NEW_INDEX)
            batch.create_unique_constraint(OLD_UNIQUE, ["server_id", "snapshot_id"])
            batch.create_index(OLD_INDEX, ["server_id", "ts"])
        return
    op.create_index(OLD_INDEX, "snapshots", ["server_id", "ts"])
    op.create_unique_constraint(OLD_UNIQUE, "snapshots", ["server_id", "snapshot_id"])
    op.drop_index(NEW_INDEX, table_name="snapshots")
