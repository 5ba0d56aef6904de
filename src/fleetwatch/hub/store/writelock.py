"""A kernel lock that hands SQLite's write lock from one hub process to the next at once.

With several worker processes (`fleetwatch hub --workers N`) on one SQLite file, each writer's
`BEGIN IMMEDIATE` that finds another process writing waits in SQLite's busy handler, which
polls with sleeps of up to 100 ms: measured, two workers stored no more than one and their p99
latency tripled. Each writer therefore takes an exclusive `flock` on `<database>-writer.lock`
around its transaction; a waiting process sleeps in the kernel and wakes the moment the other
commits (the call releases the GIL, so the process's other threads keep running). One process
alone pays one uncontended system call per batch. Other writers (migrations, the CLI) do not
take it and still rely on SQLite's busy timeout. Where `fcntl` does not exist it does nothing.
"""

from __future__ import annotations

import logging
import os
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("fleetwatch.hub.store")


class WriterLock:
    def __init__(self, database_path: str | None) -> None:
        self._fd: int | None = None
        if database_path is not None and fcntl is not None:
            try:
                self._fd = os.open(f"{database_path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:  # a read-only folder: SQLite's busy timeout still works
                log.warning("no writer lock file beside %s (%s)", database_path, exc)

    def __enter__(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
