"""Health-score history (issue 20): one row per scope per minute for the last day, one per
scope per hour after that (`services/health_history.py`).

A scope is `fleet`, `group:<name>` or `server:<id>`. Rows carry the score and the scope's mean
CPU, memory and fullest-disk percentages of that minute (the analytics summary's trends).
Same `metadata` as `tables.py`.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table

from fleetwatch.hub.store.tables import metadata

SCOPE_LENGTH = 300

health_minutes = Table(
    "health_minutes",
    metadata,
    Column("scope", String(SCOPE_LENGTH), primary_key=True),
    Column("ts", Integer, primary_key=True),  # epoch seconds of the minute's start
    Column("score", Float, nullable=False),
    Column("cpu", Float),
    Column("memory", Float),
    Column("disk", Float),
    Index("ix_health_minutes_ts", "ts"),  # the minute's rows, the hour to fold, the keep
)

health_hours = Table(
    "health_hours",
    metadata,
    Column("scope", String(SCOPE_LENGTH), primary_key=True),
    Column("ts", Integer, primary_key=True),  # epoch seconds of the hour's start
    Column("score", Float, nullable=False),  # mean of the hour's minutes
    Column("score_min", Float, nullable=False),
    Column("score_max", Float, nullable=False),
    Column("cpu", Float),
    Column("memory", Float),
    Column("disk", Float),
    Index("ix_health_hours_ts", "ts"),
)
