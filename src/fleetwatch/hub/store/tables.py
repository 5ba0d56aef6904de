"""The schema, SQLAlchemy Core. Times are UNIX epoch seconds (float, UTC).

Time series: one row per snapshot with the hot numbers as columns, the rest of the snapshot in
`detail` (compressed JSON). Rollup tiers (1 min, 1 h) keep n / min / max / sum per hot metric
so that they can be updated incrementally as data arrives (avg = sum / n).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: Hot metrics stored as columns on every snapshot and rolled up (min/avg/max).
HOT_METRICS: tuple[str, ...] = (
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

servers = Table(
    "servers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("display_name", String(255)),
    Column("ip_address", String(255)),
    Column("os_info", String(255)),
    Column("group_name", String(255)),
    Column("notes", Text),
    Column("tags", Text),  # JSON list
    Column("key_prefix", String(16), nullable=False),  # first chars of the key, for display
    Column("key_hash", String(64), nullable=False),  # SHA-256 hex of the full key
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float),  # any authenticated request (ping, metrics, live)
    Column("last_snapshot_at", Float),
    Column("interval_seconds", Integer),  # expected snapshot interval (H4)
    Column("thresholds", Text),  # JSON: per-server threshold overrides
    Column("agent_version", String(64)),
    Column("latest", LargeBinary),  # compressed JSON of the latest full snapshot
    Column("latest_live", LargeBinary),  # compressed JSON of the latest live sample
    Column("live_watch_until", Float),  # live on demand: somebody watches until then (A6)
)

groups = Table(
    "groups",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("color", String(16), nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("server_id", String(36), nullable=False),
    Column("ts", Float, nullable=False),
    Column("snapshot_id", String(64)),
    *(Column(name, Float) for name in HOT_METRICS),
    Column("detail", LargeBinary),
    # one index serves time ranges and replays (`timeseries.insert_snapshots`): a replayed
    # snapshot repeats its id and its collected_at; a second index cost ingest ~9 %
    Index("ux_snapshots_server_ts_id", "server_id", "ts", "snapshot_id", unique=True),
)


def _rollup(name: str) -> Table:
    cols = []
    for metric in HOT_METRICS:
        cols += [Column(f"{metric}_min", Float), Column(f"{metric}_max", Float)]
        cols.append(Column(f"{metric}_sum", Float))
        cols.append(Column(f"{metric}_n", Integer, nullable=False, default=0))
    return Table(
        name,
        metadata,
        Column("server_id", String(36), primary_key=True),
        Column("bucket", Float, primary_key=True),  # start of the bucket, epoch seconds
        *cols,
        # SQLite: the primary key *is* the table (no second copy of the key in a rowid index)
        sqlite_with_rowid=False,
    )


rollup_1m = _rollup("rollup_1m")
rollup_1h = _rollup("rollup_1h")
#: both rollup tables' columns, in order
ROLLUP_COLUMNS: tuple[str, ...] = tuple(c.name for c in rollup_1m.columns)

#: per-server compression references (store/references.py); `key` = hash of the text
codec_refs = Table(
    "codec_refs",
    metadata,
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column("server_id", String(36), nullable=False),
    Column("created", Float, nullable=False),
    Column("content", LargeBinary, nullable=False),  # codec.pack_json of the reference text
    Index("ix_codec_refs_server", "server_id", "created"),
)

live_samples = Table(
    "live_samples",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("server_id", String(36), nullable=False),
    Column("ts", Float, nullable=False),
    Column("cpu_percent", Float),
    Column("memory_percent", Float),
    Column("swap_percent", Float),
    Column("process_count", Float),
    Column("thread_count", Float),
    Column("handle_count", Float),
    Column("detail", LargeBinary),  # compressed JSON of the whole sample
    Index("ix_live_server_ts", "server_id", "ts"),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
)

audit_log = Table(
    "audit_log",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("ts", Float, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255)),
    Column("detail", Text),
    Column("success", Boolean, nullable=False, default=True),
    Index("ix_audit_ts", "ts"),
)

agent_configs = Table(
    "agent_configs",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("server_id", String(36), nullable=False),
    Column("config", Text, nullable=False),  # JSON: only the keys pushed
    Column("created_at", Float, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("applied_at", Float),  # set when the agent confirms
    Index("ix_agent_configs_server", "server_id", "id"),
)
