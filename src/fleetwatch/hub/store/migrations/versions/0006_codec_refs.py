"""Per-server compression references (`codec_refs`, the `S` storage format).

Revision ID: 0006_codec_refs
Revises: 0005_live_watch
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_codec_refs"
down_revision = "0005_live_watch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("codec_refs"):
        return  # adopted from a build that made its tables with `create_all`
    op.create_table(
        "codec_refs",
        sa.Column("key", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("server_id", sa.String(36), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_codec_refs_server", "codec_refs", ["server_id", "created"])


def downgrade() -> None:
    op.drop_table("codec_refs")
