"""Alerting: rules, alerts, notifications, channels and their statistics, maintenance
windows, alert/mail settings, MSAL token cache (H5-H7).

Revision ID: 0004_alerts
Revises: 0003_users
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_alerts"
down_revision = "0003_users"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", _ID, primary_key=True, autoincrement=True)


def _missing(name: str) -> bool:
    # Hubs that ran before this revision got these tables from `create_all`.
    return not sa.inspect(op.get_bind()).has_table(name)


def upgrade() -> None:
    if _missing("alert_rules"):
        op.create_table(
            "alert_rules",
            _id(),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("metric", sa.String(64), nullable=False),
            sa.Column("scope", sa.String(16), nullable=False),
            sa.Column("scope_value", sa.String(255)),
            sa.Column("target", sa.String(255)),
            sa.Column("warning", sa.Float),
            sa.Column("critical", sa.Float),
            sa.Column("duration_seconds", sa.Float, nullable=False),
            sa.Column("hysteresis", sa.Float, nullable=False),
            sa.Column("cooldown_seconds", sa.Float, nullable=False),
            sa.Column("repeat_seconds", sa.Float, nullable=False),
            sa.Column("enabled", sa.Boolean, nullable=False),
            sa.Column("builtin", sa.Boolean, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        )
    if _missing("alerts"):
        op.create_table(
            "alerts",
            _id(),
            sa.Column("server_id", sa.String(36), nullable=False),
            sa.Column("rule_id", sa.Integer),
            sa.Column("key", sa.String(512), nullable=False),
            sa.Column("component", sa.String(32), nullable=False),
            sa.Column("metric", sa.String(64), nullable=False),
            sa.Column("target", sa.String(255)),
            sa.Column("level", sa.String(16), nullable=False),
            sa.Column("value", sa.Float),
            sa.Column("threshold", sa.Float),
            sa.Column("message", sa.Text, nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("fired_at", sa.Float, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
            sa.Column("acknowledged_at", sa.Float),
            sa.Column("acknowledged_by", sa.String(255)),
            sa.Column("resolved_at", sa.Float),
            sa.Column("notified_at", sa.Float),
            sa.Column("notify_count", sa.Integer, nullable=False),
        )
        op.create_index("ix_alerts_state", "alerts", ["state"])
        op.create_index("ix_alerts_server_fired", "alerts", ["server_id", "fired_at"])
        op.create_index("ix_alerts_fired", "alerts", ["fired_at"])
    if _missing("notifications"):
        op.create_table(
            "notifications",
            _id(),
            sa.Column("ts", sa.Float, nullable=False),
            sa.Column("alert_id", sa.Integer),
            sa.Column("server_id", sa.String(36)),
            sa.Column("level", sa.String(16), nullable=False),
            sa.Column("title", sa.String(255), nullable=False),
            sa.Column("message", sa.Text, nullable=False),
            sa.Column("read", sa.Boolean, nullable=False),
            sa.Column("read_at", sa.Float),
        )
        op.create_index("ix_notifications_read_ts", "notifications", ["read", "ts"])
    if _missing("channels"):
        op.create_table(
            "channels",
            _id(),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("config", sa.Text, nullable=False),
            sa.Column("min_level", sa.String(16), nullable=False),
            sa.Column("components", sa.Text),
            sa.Column("time_window", sa.Text),
            sa.Column("send_resolved", sa.Boolean, nullable=False),
            sa.Column("enabled", sa.Boolean, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        )
    if _missing("channel_stats"):
        op.create_table(
            "channel_stats",
            sa.Column("channel_id", sa.Integer, primary_key=True),
            sa.Column("handled_total", sa.Integer, nullable=False),
            sa.Column("errors_total", sa.Integer, nullable=False),
            sa.Column("filtered_total", sa.Integer, nullable=False),
            sa.Column("dropped_total", sa.Integer, nullable=False),
            sa.Column("last_success_at", sa.Float),
            sa.Column("last_error_at", sa.Float),
            sa.Column("last_error", sa.Text),
        )
    if _missing("maintenance_windows"):
        op.create_table(
            "maintenance_windows",
            _id(),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("scope", sa.String(16), nullable=False),
            sa.Column("scope_value", sa.String(255)),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("starts_at", sa.Float),
            sa.Column("ends_at", sa.Float),
            sa.Column("weekdays", sa.Text),
            sa.Column("start_time", sa.String(5)),
            sa.Column("end_time", sa.String(5)),
            sa.Column("timezone", sa.String(64), nullable=False),
            sa.Column("enabled", sa.Boolean, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("created_by", sa.String(255), nullable=False),
        )
    if _missing("alert_settings"):
        op.create_table(
            "alert_settings",
            sa.Column("key", sa.String(128), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    if _missing("mail_token_cache"):
        op.create_table(
            "mail_token_cache",
            sa.Column("account", sa.String(255), primary_key=True),
            sa.Column("cache", sa.Text, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        )


def downgrade() -> None:
    for name in ("mail_token_cache", "alert_settings", "maintenance_windows", "channel_stats",
                 "channels", "notifications", "alerts", "alert_rules"):  # fmt: skip
        op.drop_table(name)
