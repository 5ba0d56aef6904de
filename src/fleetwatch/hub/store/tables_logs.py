"""The log store (issue 22, H17): `log_lines` (one row per shipped line) and `log_batches`
(the batch ids already stored, so a resent batch is ignored: exactly once), and
`log_rules` (B8: a pattern that raises an alert when shipped lines match it).

The full-text index is not on `metadata`: revision 0012 makes it per engine (SQLite: the FTS5
table `log_fts` over `log_lines.message`, filled per batch by `logs.store_batch`, emptied by a
delete trigger; PostgreSQL: the generated
`tsvector` column `log_lines.tsv` with a GIN index). `services/logsearch.py` queries both.
Same `metadata` as `tables.py`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)

from fleetwatch.hub.store.tables import metadata

APP_LENGTH = 128
SOURCE_LENGTH = 512
BATCH_ID_LENGTH = 128

log_lines = Table(
    "log_lines",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("server_id", String(36), nullable=False),
    Column("ts", Float, nullable=False),  # the line's own time (or when it was read)
    Column("received_at", Float, nullable=False),
    Column("app", String(APP_LENGTH), nullable=False),
    Column("source", String(SOURCE_LENGTH), nullable=False),
    Column("level", SmallInteger, nullable=False),  # 10 debug ... 50 critical
    Column("message", Text, nullable=False),
    Index("ix_log_lines_server_id", "server_id", "id"),
    Index("ix_log_lines_ts", "ts"),
)

log_batches = Table(
    "log_batches",
    metadata,
    Column("server_id", String(36), primary_key=True),
    Column("batch_id", String(BATCH_ID_LENGTH), primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("lines", Integer, nullable=False),
    Index("ix_log_batches_received", "received_at"),
)

log_rules = Table(
    "log_rules",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("kind", String(8), nullable=False),  # text (a substring) | regex (`re` syntax)
    Column("pattern", String(512), nullable=False),
    Column("case_sensitive", Boolean, nullable=False, default=False),
    Column("server_id", String(36)),  # NULL: every server
    Column("app", String(APP_LENGTH)),  # NULL: every app
    Column("min_level", SmallInteger),  # NULL: every level; else 10 debug ... 50 critical
    Column("alert_level", String(16), nullable=False),  # WARNING | CRITICAL
    #: no second notification sooner; the alert resolves after as long without a match
    Column("cooldown_seconds", Float, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("created_by", String(255), nullable=False),
)
