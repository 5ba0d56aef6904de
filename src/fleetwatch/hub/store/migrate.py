"""Schema migrations (placeholder: creates the tables; Alembic replaces this)."""

from __future__ import annotations

from sqlalchemy import Engine

from fleetwatch.hub.store.tables import metadata


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema."""
    metadata.create_all(engine)
