"""The durable delivery buffer (A8): a small SQLite file bounded by bytes.

Every snapshot goes here first; the sender replays the oldest first and deletes entries only
after the hub answered 200. Entries are stored zlib-compressed, so `max_bytes` (the sum of the
stored sizes) holds several times more snapshots than their JSON size suggests. When an append
would exceed the bound, the oldest entries are dropped and counted.

Durability: WAL journal with `synchronous=FULL`, so an acknowledged append survives SIGKILL and
power loss. A crash between the hub's 200 and the delete only causes a resend, which the hub
ignores (snapshot ids make ingest idempotent), so every snapshot arrives exactly once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    size_bytes INTEGER NOT NULL,
    body BLOB NOT NULL
)
"""


@dataclass(frozen=True)
class Entry:
    """One buffered snapshot: `body` is the JSON document (bytes, uncompressed)."""

    id: int
    snapshot_id: str
    body: bytes


class DurableBuffer:
    """Thread-safe FIFO of JSON payloads on disk; `max_bytes` bounds the stored size."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.dropped_total = 0
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(_SCHEMA)
        row = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM pending")
        self._count, self._size_bytes = row.fetchone()

    def __len__(self) -> int:
        return int(self._count)

    @property
    def size_bytes(self) -> int:
        """Stored (compressed) bytes currently held."""
        return int(self._size_bytes)

    def append(self, snapshot_id: str, body: bytes) -> int:
        """Store one payload durably; returns how many old entries were dropped to fit it."""
        blob = zlib.compress(body, 6)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO pending (snapshot_id, created_at, size_bytes, body)"
                    " VALUES (?, ?, ?, ?)",
                    (snapshot_id, time.time(), len(blob), blob),
                )
                self._count += 1
                self._size_bytes += len(blob)
                dropped = self._trim_locked()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._reload_totals_locked()
                raise
        self.dropped_total += dropped
        return dropped

    def _trim_locked(self) -> int:
        dropped = 0
        while self._size_bytes > self.max_bytes and self._count > 0:
            rows = self._conn.execute(
                "SELECT id, size_bytes FROM pending ORDER BY id LIMIT 64"
            ).fetchall()
            cut: list[int] = []
            for row_id, size in rows:
                if self._size_bytes <= self.max_bytes:
                    break
                cut.append(row_id)
                self._size_bytes -= size
                self._count -= 1
            self._conn.execute("DELETE FROM pending WHERE id <= ?", (cut[-1],))
            dropped += len(cut)
        return dropped

    def _reload_totals_locked(self) -> None:
        row = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM pending")
        self._count, self._size_bytes = row.fetchone()

    def set_max_bytes(self, max_bytes: int) -> int:
        """Change the bound (hot reload); returns how many entries were dropped to meet it."""
        with self._lock:
            self.max_bytes = max_bytes
            self._conn.execute("BEGIN IMMEDIATE")
            dropped = self._trim_locked()
            self._conn.execute("COMMIT")
        self.dropped_total += dropped
        return dropped

    def peek(
        self, limit: int, max_body_bytes: int, *, newest_after: int | None = None
    ) -> list[Entry]:
        """The oldest entries, at most `limit` and about `max_body_bytes` of JSON (at least 1).

        With `newest_after`: when more than `limit` entries wait and the newest one's id is
        above `newest_after`, the newest takes the batch's last place, after the oldest
        `limit - 1` (a long backlog then does not hold a fresh snapshot back)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, snapshot_id, body FROM pending ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
            newest = None
            if newest_after is not None and self._count > limit:
                newest = self._conn.execute(
                    "SELECT id, snapshot_id, body FROM pending ORDER BY id DESC LIMIT 1"
                ).fetchone()
                if newest is None or newest[0] <= newest_after:
                    newest = None
                else:
                    rows = rows[: limit - 1]
        tail = [] if newest is None else [Entry(newest[0], newest[1], zlib.decompress(newest[2]))]
        entries: list[Entry] = []
        total = sum(len(e.body) for e in tail)
        for row_id, snapshot_id, blob in rows:
            body = zlib.decompress(blob)
            if (entries or tail) and total + len(body) > max_body_bytes:
                break
            entries.append(Entry(row_id, snapshot_id, body))
            total += len(body)
        return entries + tail

    def newest_id(self) -> int:
        """The id of the newest entry (0 when empty); ids only grow."""
        with self._lock:
            row = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM pending").fetchone()
        return int(row[0])

    def delete(self, ids: list[int]) -> None:
        """Remove delivered entries."""
        if not ids:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    gone, size = self._conn.execute(
                        f"SELECT COUNT(*), COALESCE(SUM(size_bytes), 0) FROM pending"
                        f" WHERE id IN ({marks})",
                        chunk,
                    ).fetchone()
                    self._conn.execute(f"DELETE FROM pending WHERE id IN ({marks})", chunk)
                    self._count -= gone
                    self._size_bytes -= size
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._reload_totals_locked()
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()
