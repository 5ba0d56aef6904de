"""Alerting tables (H5-H7), on the shared `metadata` of `store/tables.py`.

Times are UNIX epoch seconds (float, UTC); JSON documents are stored as text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from fleetwatch.hub.store.tables import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("metric", String(64), nullable=False),
    #: "global" | "group" | "server"; `scope_value` is the group name or server id
    Column("scope", String(16), nullable=False, default="global"),
    Column("scope_value", String(255)),
    #: mount / GPU index / process / service name (fnmatch pattern); NULL = every target
    Column("target", String(255)),
    Column("warning", Float),
    Column("critical", Float),
    Column("duration_seconds", Float, nullable=False, default=0.0),
    Column("hysteresis", Float, nullable=False, default=0.0),
    Column("cooldown_seconds", Float, nullable=False, default=300.0),
    Column("repeat_seconds", Float, nullable=False, default=0.0),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("builtin", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("server_id", String(36), nullable=False),
    Column("rule_id", Integer),
    #: identity of the condition: "<metric>|<target>"; one open alert per (server, key)
    Column("key", String(512), nullable=False),
    Column("component", String(32), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("target", String(255)),
    Column("level", String(16), nullable=False),  # WARNING | CRITICAL
    Column("value", Float),
    Column("threshold", Float),
    Column("message", Text, nullable=False),
    Column("state", String(16), nullable=False),  # firing | acknowledged | resolved
    Column("fired_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("acknowledged_at", Float),
    Column("acknowledged_by", String(255)),
    Column("resolved_at", Float),
    Column("notified_at", Float),
    Column("notify_count", Integer, nullable=False, default=0),
    Index("ix_alerts_state", "state"),
    Index("ix_alerts_server_fired", "server_id", "fired_at"),
    Index("ix_alerts_fired", "fired_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("alert_id", Integer),
    Column("server_id", String(36)),
    Column("level", String(16), nullable=False),  # INFO | WARNING | CRITICAL
    Column("title", String(255), nullable=False),
    Column("message", Text, nullable=False),
    Column("read", Boolean, nullable=False, default=False),
    Column("read_at", Float),
    Index("ix_notifications_read_ts", "read", "ts"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    #: inapp | email | webhook | slack | file | console
    Column("kind", String(16), nullable=False),
    Column("config", Text, nullable=False),  # JSON, validated per kind
    Column("min_level", String(16), nullable=False, default="WARNING"),
    Column("components", Text),  # JSON list; NULL = every component
    Column("time_window", Text),  # JSON {start, end, timezone, weekdays}; NULL = always
    Column("send_resolved", Boolean, nullable=False, default=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

channel_stats = Table(
    "channel_stats",
    metadata,
    Column("channel_id", Integer, primary_key=True),
    Column("handled_total", Integer, nullable=False, default=0),
    Column("errors_total", Integer, nullable=False, default=0),
    Column("filtered_total", Integer, nullable=False, default=0),
    Column("dropped_total", Integer, nullable=False, default=0),
    Column("last_success_at", Float),
    Column("last_error_at", Float),
    Column("last_error", Text),
)

maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("scope", String(16), nullable=False),  # all | group | server
    Column("scope_value", String(255)),
    Column("kind", String(16), nullable=False),  # once | weekly
    Column("starts_at", Float),  # once
    Column("ends_at", Float),  # once
    Column("weekdays", Text),  # weekly: JSON list, 0 = Monday
    Column("start_time", String(5)),  # weekly: "HH:MM" local
    Column("end_time", String(5)),  # weekly: "HH:MM" local; <= start = across midnight
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(255), nullable=False),
)

#: Alerting and mail settings (key -> JSON), separate from the dashboard `settings` table.
alert_settings = Table(
    "alert_settings",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

#: MSAL token cache (serialized), one row per mail account.
mail_token_cache = Table(
    "mail_token_cache",
    metadata,
    Column("account", String(255), primary_key=True),
    Column("cache", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

ALERT_TABLES = (
    alert_rules,
    alerts,
    notifications,
    channels,
    channel_stats,
    maintenance_windows,
    alert_settings,
    mail_token_cache,
)
