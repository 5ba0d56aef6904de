"""Indexes on the health history's times (`health_minutes.ts`, `health_hours.ts`): each
minute's write deletes by time and folds the last hour by time, which without them scanned a
day of rows (1.4 million for 1,000 servers).

Revision ID: 0011_health_ts
Revises: 0010_control
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_health_ts"
down_revision = "0010_control"
branch_labels = None
depends_on = None

INDEXES = (("ix_health_minutes_ts", "health_minutes"), ("ix_health_hours_ts", "health_hours"))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, table in INDEXES:
        if name not in {i["name"] for i in inspector.get_indexes(table)}:
            op.create_index(name, table, ["ts"])


def downgrade() -> None:
    for name, table in INDEXES:
        op.drop_index(name, table_name=table)
