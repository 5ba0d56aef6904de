"""`fleetwatch hub backup PATH`: a consistent copy of a (running) SQLite hub database.

`VACUUM INTO` reads the database inside one read transaction, so the copy is exactly the
database as of one commit, even while the hub keeps writing (WAL readers never block the
writer, nor wait for it). The copy is written next to the target and renamed into place only
once complete and checked, so PATH never holds a half-written file.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from fleetwatch.errors import FleetwatchError


class BackupError(FleetwatchError):
    """The backup could not be made; the message says why."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    seconds: float
    servers: int
    snapshots: int


def sqlite_path(database_url: str) -> Path:
    """The file of a `sqlite:///...` URL; BackupError for other databases."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "backup copies the hub's SQLite file; for PostgreSQL use pg_dump "
            "(e.g. `pg_dump -Fc -f fleetwatch.dump DBNAME`)"
        )
    return Path(url.database)


def resolve_target(target: Path) -> Path:
    """A folder gets a timestamped file name inside it; an existing file is refused."""
    if target.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        target = target / f"fleetwatch-{stamp}.db"
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new name")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    return target


def backup_sqlite(source: Path, target: Path) -> BackupResult:
    if not source.is_file():
        raise BackupError(f"no hub database at {source}")
    target = resolve_target(target)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            src.execute("PRAGMA busy_timeout=30000")
            src.execute("VACUUM INTO ?", (str(partial),))
        finally:
            src.close()
        copy = sqlite3.connect(partial)
        try:
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
            servers = copy.execute("SELECT count(*) FROM servers").fetchone()[0]
            snapshots = copy.execute("SELECT count(*) FROM snapshots").fetchone()[0]
        finally:
            copy.close()
        partial.replace(target)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {source} failed: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(
        target, target.stat().st_size, time.monotonic() - started, servers, snapshots
    )
