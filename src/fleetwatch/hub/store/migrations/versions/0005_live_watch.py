"""Live on demand (A6): `servers.live_watch_until`, until when somebody watches the server's
performance monitor (epoch seconds; NULL = nobody).

Revision ID: 0005_live_watch
Revises: 0004_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_live_watch"
down_revision = "0004_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database adopted from a pre-migration build may already have the column.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("servers")}
    if "live_watch_until" not in columns:
        op.add_column("servers", sa.Column("live_watch_until", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("live_watch_until")
