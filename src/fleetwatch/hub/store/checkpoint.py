"""The WAL checkpointer of a SQLite hub: a thread with its own connection.

The writer never checkpoints the WAL itself: a checkpoint copies every page written since the
last one into the database file, inside whichever commit crosses the threshold, so one batch in
a thousand used to take many times longer. This thread does it every `CHECKPOINT_SECONDS`,
outside the GIL (SQLite's C code runs it), so on a second core it costs ingest nothing.

Each round is two passive checkpoints: the bulk beside the writer, then the tail (the frames
committed meanwhile) with the writers paused on their lock (`writelock.py`, through a
descriptor of its own, so it excludes this process's writer too). Without that pause a writer
that commits continuously always stays ahead of the checkpoint, the WAL never starts over and
grows without bound (measured: 1 GB in 25 s of ingest), and every page lookup in the ever
larger WAL index slowed the writer by half. The pause lasts as long as the tail takes (a few
ms); the next commit then starts the WAL over. `stop()` runs a last round.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from fleetwatch.hub.store.writelock import WriterLock

log = logging.getLogger("fleetwatch.hub.store")

#: how often the checkpointer moves WAL pages into the SQLite database file
CHECKPOINT_SECONDS = 1.0


class Checkpointer:
    def __init__(self, path: str) -> None:
        self._path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0  # completed rounds

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="fleetwatch-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=60)
            self._thread = None

    def _loop(self) -> None:
        conn = sqlite3.connect(self._path, timeout=30, check_same_thread=False)
        writers = WriterLock(self._path)
        try:
            while True:
                stopping = self._stop.wait(CHECKPOINT_SECONDS)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # the bulk
                    with writers:  # the tail
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.rounds += 1
                except sqlite3.Error as exc:  # busy or locked: the next round catches up
                    log.debug("checkpoint skipped: %s", exc)
                if stopping:
                    return
        finally:
            writers.close()
            conn.close()
