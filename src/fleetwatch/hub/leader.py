"""Leader election: with several hub processes on one database, exactly one runs the singleton
jobs (the alert engine's evaluation loops, retention).

- SQLite: an exclusive `flock` on `<database file>.leader`. The operating system releases it
  when the process exits or dies, so a SIGKILLed leader never blocks the others.
- PostgreSQL: a session advisory lock, keyed by the current schema, held on a dedicated
  connection. The leader checks that connection every few seconds; if it broke, the server
  released the lock and the process steps down.

Every process keeps trying every `retry_seconds`, so leadership moves on within seconds when
the leader stops (uvicorn restarts a dead worker; a replica goes away). Other locks (no
`fcntl`, an in-memory SQLite database) fall back to "always leader": one process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from fleetwatch.hub.store.database import Database

log = logging.getLogger("fleetwatch.hub.leader")

RETRY_SECONDS = 5.0


class LeaderLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if free; True when this process holds it (blocking I/O allowed)."""
        ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class AlwaysLeader:
    """No lock available: this process is the only one (documented limitation)."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        return None


class FileLock:
    """`flock(LOCK_EX | LOCK_NB)` on a file next to the SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        import fcntl

        if self._file is not None:
            return True
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def still_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the lock
            self._file = None


class AdvisoryLock:
    """`pg_try_advisory_lock` on its own connection (a pooled one could change hands)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self.db.engine.connect()
        try:
            sql = "SELECT pg_try_advisory_lock(hashtext('fleetwatch-leader:' || current_schema()))"
            got = bool(conn.execute(text(sql)).scalar())
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except Exception:
            log.warning("leader: the lock connection broke; stepping down")
            self.release()
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                # invalidate: close the session itself (that releases the advisory lock)
                # instead of handing it back to the pool still holding the lock
                self._conn.invalidate()
                self._conn.close()
            self._conn = None


def lock_for(db: Database) -> LeaderLock:
    """The right lock for this database."""
    if db.dialect == "postgresql":
        return AdvisoryLock(db)
    database = make_url(db.url).database
    if db.dialect != "sqlite" or not database or database == ":memory:" or os.name != "posix":
        return AlwaysLeader()
    return FileLock(Path(database + ".leader"))


async def lead(
    lock: LeaderLock,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    retry_seconds: float = RETRY_SECONDS,
    leading: bool = False,
) -> None:
    """Run forever: take the lock when free, then `start()` the singleton jobs; `stop()` them
    if the lock is lost. Cancel the task to shut down (it stops the jobs and releases).
    `leading=True`: the caller already holds the lock and started the jobs."""
    try:
        while True:
            if not leading:
                try:
                    leading = await asyncio.to_thread(lock.try_acquire)
                except Exception:
                    log.exception("leader: could not try the lock")
                if leading:
                    log.info("leader: this process runs the singleton jobs (pid %d)", os.getpid())
                    await start()
            elif not await asyncio.to_thread(lock.still_held):
                leading = False
                await stop()
            await asyncio.sleep(retry_seconds)
    finally:  # also on cancellation: stop before releasing, never two leaders at once
        if leading:
            await stop()
        lock.release()
