"""User accounts, API tokens, login sessions and password-reset tokens (H8).

Same `metadata` as `tables.py`. Secrets are never stored in the clear: passwords as argon2id
hashes, API tokens, session ids and reset tokens as SHA-256 hex digests.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from fleetwatch.hub.store.tables import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("email", String(255)),
    Column("role", String(16), nullable=False),  # viewer | operator | admin
    Column("password_hash", String(255), nullable=False),  # argon2id
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("last_login_at", Float),
    Column("failed_logins", Integer, nullable=False, default=0, server_default="0"),
    Column("locked_until", Float),  # epoch seconds; NULL or past = not locked
    Column("preferences", Text),  # JSON: dashboard view, theme, ...
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("user_id", _ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(128), nullable=False),
    Column("prefix", String(16), nullable=False),  # first characters, for display
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
    Index("ix_api_tokens_user", "user_id"),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", _ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("ip_address", String(64)),
    Column("user_agent", String(255)),
    Index("ix_user_sessions_user", "user_id"),
)

password_reset_tokens = Table(
    "password_reset_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", _ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
)

#: hub-wide secrets generated at first start (the session-cookie signing key)
hub_secrets = Table(
    "hub_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
)
