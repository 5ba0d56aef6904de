"""Schema migrations: Alembic, driven programmatically from the installed package.

`upgrade(engine)` runs at every hub start and from `fleetwatch hub migrate`. Several hub
processes may start at once (uvicorn workers on one SQLite file, replicas on one PostgreSQL),
so the whole upgrade runs inside one transaction that first takes a lock: `BEGIN IMMEDIATE` on
SQLite, a transaction-scoped advisory lock on PostgreSQL. The second process waits, then finds
the schema current and does nothing. DDL is transactional on both engines, so a failed
migration leaves the schema as it was.
"""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from fleetwatch.hub.store.tables import metadata

log = logging.getLogger("fleetwatch.hub.store")

SCRIPT_LOCATION = "fleetwatch.hub.store:migrations"
#: pg_advisory_xact_lock key: "fleetwat" as a 64-bit integer, fixed forever.
PG_LOCK_KEY = 0x666C656574776174 - (1 << 63)
#: Databases made before migrations existed had these tables but no version row.
_FIRST_REVISION = "0001"


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    """The newest revision(s) this version of fleetwatch knows ("a,b" if branches coexist)."""
    return ",".join(sorted(ScriptDirectory.from_config(_config()).get_heads()))


def _revision(conn: Connection) -> str | None:
    heads = MigrationContext.configure(conn).get_current_heads()
    return ",".join(sorted(heads)) if heads else None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def _create_unmigrated_tables(conn: Connection) -> None:
    """Create tables declared on `metadata` that no revision creates yet (new features).

    A bridge while a feature's tables are young: the first *change* to such a table needs a
    revision (which must then also create the table when it is missing).
    """
    existing = set(inspect(conn).get_table_names())
    missing = [t for t in metadata.sorted_tables if t.name not in existing]
    if missing:
        log.info("creating tables without a migration yet: %s", ", ".join(t.name for t in missing))
        metadata.create_all(conn, tables=missing)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest schema; returns (revision before, revision after)."""
    with engine.connect().execution_options(fleetwatch_writer=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})")
        before = _revision(conn)
        cfg = _config(conn)
        if before is None and inspect(conn).has_table("servers"):
            log.info("adopting a database created before migrations (stamping %s)", _FIRST_REVISION)
            command.stamp(cfg, _FIRST_REVISION)
        command.upgrade(cfg, "heads")  # several feature branches may coexist
        after = _revision(conn)
        _create_unmigrated_tables(conn)
    if before != after:
        log.info("database schema upgraded from %s to %s", before or "empty", after)
    assert after is not None
    return before, after
