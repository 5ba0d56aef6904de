"""Log rules (issue 22, B8): patterns that raise alerts when shipped log lines match them.

Revision ID: 0013_log_rules
Revises: 0012_logs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_log_rules"
down_revision = "0012_logs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("log_rules"):
        return
    op.create_table(
        "log_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("pattern", sa.String(512), nullable=False),
        sa.Column("case_sensitive", sa.Boolean, nullable=False),
        sa.Column("server_id", sa.String(36)),
        sa.Column("app", sa.String(128)),
        sa.Column("min_level", sa.SmallInteger),
        sa.Column("alert_level", sa.String(16), nullable=False),
        sa.Column("cooldown_seconds", sa.Float, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("log_rules")
