"""Storage: one interface over SQLite (default) and PostgreSQL.

`tables.py` is the schema (SQLAlchemy Core), `database.py` the read pool and the single
writer; services call `Database.read(fn)` / `Database.write(fn)` and never open connections.
"""
