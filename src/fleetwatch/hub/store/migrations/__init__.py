"""Alembic migrations of the hub schema (`script_location = fleetwatch.hub.store:migrations`).

Applied by `store.migrate.upgrade(engine)` at hub start and by `fleetwatch hub migrate`.
Add a revision: copy the newest file in `versions/`, bump `revision`/`down_revision`, and write
the change with `op.*` so that it runs on SQLite (use `op.batch_alter_table`) and PostgreSQL.
"""
