"""The 1-hour tier's open hour (`store/hours.py`): older databases brought into line.

Before this revision every hour had an exact `rollup_1h` row, the open one included, and
retention deleted 1-minute rows by age alone. Now readers fold a server's open hour (the hour
of its `last_snapshot_at`) from its 1-minute rows, and the writer writes the hour from them when
it closes. Where those minutes no longer add up to the stored row (retention deleted some or
all of them), the stored row is moved into the minutes: they are replaced by one 1-minute row
at the hour's start holding the stored aggregate, so readers and the close see exactly it (and
later snapshots of that hour add to it). Data only; nothing to undo.

Revision ID: 0007_open_hours
Revises: 0006_codec_refs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_open_hours"
down_revision = "0006_codec_refs"
branch_labels = None
depends_on = None

#: the hot metrics at this revision (tables.HOT_METRICS then; a later change needs its own)
METRICS = (
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
COLUMNS = ["server_id", "bucket"] + [
    f"{m}_{part}" for m in METRICS for part in ("min", "max", "sum", "n")
]


def upgrade() -> None:
    conn = op.get_bind()
    opened = conn.execute(
        sa.text("SELECT id, last_snapshot_at FROM servers WHERE last_snapshot_at IS NOT NULL")
    ).all()
    counts = ", ".join(f"COALESCE(SUM({m}_n), 0)" for m in METRICS)
    where = "server_id = :server_id AND bucket >= :hour AND bucket < :until"
    for server_id, last in opened:
        hour = float(int(last // 3600) * 3600)
        params = {"server_id": server_id, "hour": hour, "until": hour + 3600}
        stored = (
            conn.execute(
                sa.text(
                    f"SELECT {', '.join(COLUMNS)} FROM rollup_1h "
                    "WHERE server_id = :server_id AND bucket = :hour"
                ),
                params,
            )
            .mappings()
            .first()
        )
        if stored is None:
            continue
        minutes = conn.execute(sa.text(f"SELECT {counts} FROM rollup_1m WHERE {where}"), params)
        if list(minutes.one()) == [stored[f"{m}_n"] for m in METRICS]:
            continue  # the minutes are complete: readers fold them to the stored row
        conn.execute(sa.text(f"DELETE FROM rollup_1m WHERE {where}"), params)
        conn.execute(
            sa.text(
                f"INSERT INTO rollup_1m ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in COLUMNS)})"
            ),
            dict(stored),
        )


def downgrade() -> None:
    pass  # the moved aggregate is still right for the older code's readers
