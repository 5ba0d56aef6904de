"""Health-score history (issue 20): `health_minutes` (a day of 1-minute scores per scope) and
`health_hours` (hourly means, minimum and maximum after that).

Revision ID: 0009_health
Revises: 0008_snapshot_key
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_health"
down_revision = "0008_snapshot_key"
branch_labels = None
depends_on = None


def _columns(extra: list[sa.Column[float]]) -> list[sa.Column[Any]]:
    return [
        sa.Column("scope", sa.String(300), primary_key=True),
        sa.Column("ts", sa.Integer, primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
        *extra,
        sa.Column("cpu", sa.Float),
        sa.Column("memory", sa.Float),
        sa.Column("disk", sa.Float),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("health_minutes"):
        op.create_table("health_minutes", *_columns([]))
    if not inspector.has_table("health_hours"):
        hourly = [sa.Column("score_min", sa.Float, nullable=False),
                  sa.Column("score_max", sa.Float, nullable=False)]  # fmt: skip
        op.create_table("health_hours", *_columns(hourly))


def downgrade() -> None:
    op.drop_table("health_hours")
    op.drop_table("health_minutes")
