"""Engines: SQLite in WAL mode with real SAVEPOINTs, or PostgreSQL through psycopg 3."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event


def _enable_wal(cur: Any, attempts: int = 300) -> None:
    """`PRAGMA journal_mode=WAL`, which answers "database is locked" at once (no busy wait)
    while another connection converts a new file: retry for up to ~30 s."""
    for attempt in range(attempts):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, synchronous=NORMAL and real SAVEPOINTs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (savepoints work)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            _enable_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # The writer takes the write lock up front: a deferred transaction that upgrades
            # from read to write can fail at once with SQLITE_BUSY when another process
            # (a second worker, `fleetwatch hub migrate`) writes too; IMMEDIATE waits instead.
            immediate = conn.get_execution_options().get("fleetwatch_writer", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
