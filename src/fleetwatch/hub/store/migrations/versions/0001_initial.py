"""Initial schema: servers, groups, snapshots, rollups, live samples, settings, audit, configs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of tables.HOT_METRICS as of this revision (later revisions add, never edit).
HOT_METRICS = (
    "cpu_percent",
    "memory_percent",
    "swap_percent",
    "load_1",
    "disk_percent_max",
    "net_sent_bytes_per_sec",
    "net_recv_bytes_per_sec",
    "disk_read_bytes_per_sec",
    "disk_write_bytes_per_sec",
    "process_count",
    "thread_count",
)


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    op.create_table(
        "servers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255)),
        sa.Column("ip_address", sa.String(255)),
        sa.Column("os_info", sa.String(255)),
        sa.Column("group_name", sa.String(255)),
        sa.Column("notes", sa.Text),
        sa.Column("tags", sa.Text),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float),
        sa.Column("last_snapshot_at", sa.Float),
        sa.Column("interval_seconds", sa.Integer),
        sa.Column("thresholds", sa.Text),
        sa.Column("agent_version", sa.String(64)),
        sa.Column("latest", sa.LargeBinary),
        sa.Column("latest_live", sa.LargeBinary),
    )
    op.create_table(
        "groups",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("color", sa.String(16), nullable=False),
    )
    op.create_table(
        "snapshots",
        _id(),
        sa.Column("server_id", sa.String(36), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("snapshot_id", sa.String(64)),
        *(sa.Column(name, sa.Float) for name in HOT_METRICS),
        sa.Column("detail", sa.LargeBinary),
        sa.UniqueConstraint("server_id", "snapshot_id", name="uq_snapshots_server_snapshot"),
    )
    op.create_index("ix_snapshots_server_ts", "snapshots", ["server_id", "ts"])
    for name in ("rollup_1m", "rollup_1h"):
        cols: list[sa.Column[float] | sa.Column[int]] = []
        for metric in HOT_METRICS:
            cols += [sa.Column(f"{metric}_min", sa.Float), sa.Column(f"{metric}_max", sa.Float)]
            cols.append(sa.Column(f"{metric}_sum", sa.Float))
            cols.append(sa.Column(f"{metric}_n", sa.Integer, nullable=False, default=0))
        op.create_table(
            name,
            sa.Column("server_id", sa.String(36), primary_key=True),
            sa.Column("bucket", sa.Float, primary_key=True),
            *cols,
            sqlite_with_rowid=False,
        )
    op.create_table(
        "live_samples",
        _id(),
        sa.Column("server_id", sa.String(36), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        *(
            sa.Column(name, sa.Float)
            for name in (
                "cpu_percent",
                "memory_percent",
                "swap_percent",
                "process_count",
                "thread_count",
                "handle_count",
            )
        ),
        sa.Column("detail", sa.LargeBinary),
    )
    op.create_index("ix_live_server_ts", "live_samples", ["server_id", "ts"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255)),
        sa.Column("detail", sa.Text),
        sa.Column("success", sa.Boolean, nullable=False, default=True),
    )
    op.create_index("ix_audit_ts", "audit_log", ["ts"])
    op.create_table(
        "agent_configs",
        _id(),
        sa.Column("server_id", sa.String(36), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("applied_at", sa.Float),
    )
    op.create_index("ix_agent_configs_server", "agent_configs", ["server_id", "id"])


def downgrade() -> None:
    for name in (
        "agent_configs",
        "audit_log",
        "settings",
        "live_samples",
        "rollup_1h",
        "rollup_1m",
        "snapshots",
        "groups",
        "servers",
    ):
        op.drop_table(name)
