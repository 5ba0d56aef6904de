"""The writer lock beside a SQLite file: a second holder waits until the first releases."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fleetwatch.hub.store.writelock import WriterLock


def test_a_second_writer_waits_for_the_first_and_then_goes(tmp_path: Path) -> None:
    db = str(tmp_path / "fleetwatch.db")
    first, second = WriterLock(db), WriterLock(db)  # two open files, as two processes have
    order: list[str] = []

    def other() -> None:
        with second:
            order.append("second")

    with first:
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.3)
        assert order == []  # still waiting
        order.append("first released")
    thread.join(timeout=5)
    assert order == ["first released", "second"]
    assert (tmp_path / "fleetwatch.db-writer.lock").exists()
    first.close()
    second.close()


def test_no_database_file_means_no_lock(tmp_path: Path) -> None:
    lock = WriterLock(None)
    with lock, lock:  # re-entering an absent lock cannot block
        pass
    assert list(tmp_path.iterdir()) == []
