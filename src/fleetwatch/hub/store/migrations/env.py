"""Alembic environment: runs on the connection `store.migrate` hands over (never from a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from fleetwatch.hub.store.tables import metadata


def run() -> None:
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through fleetwatch.hub.store.migrate.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
