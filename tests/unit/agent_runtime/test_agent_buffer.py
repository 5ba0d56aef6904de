"""The durable buffer: FIFO, bounded by bytes (oldest dropped), survives reopening."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleetwatch.agent.buffer import DurableBuffer


def body(i: int, pad: int = 0) -> bytes:
    return json.dumps({"snapshot_id": f"s{i}", "pad": os.urandom(pad).hex()}).encode()


def test_fifo_peek_and_delete(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.db", 10**9)
    for i in range(5):
        buf.append(f"s{i}", body(i))
    entries = buf.peek(3, 10**9)
    assert [e.snapshot_id for e in entries] == ["s0", "s1", "s2"]
    assert json.loads(entries[0].body)["snapshot_id"] == "s0"
    buf.delete([e.id for e in entries])
    assert len(buf) == 2
    assert [e.snapshot_id for e in buf.peek(10, 10**9)] == ["s3", "s4"]


def test_peek_respects_byte_budget_but_returns_at_least_one(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.db", 10**9)
    for i in range(4):
        buf.append(f"s{i}", body(i, pad=1000))
    assert len(buf.peek(10, 1)) == 1
    assert len(buf.peek(10, 4500)) == 2


def test_peek_newest_after_puts_a_fresh_entry_last_in_a_backlog_batch(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.db", 10**9)
    for i in range(6):
        buf.append(f"s{i}", body(i, pad=1000))
    ids = [e.id for e in buf.peek(10, 10**9)]
    # more waiting than fits: the oldest, then the newest (when newer than the given id)
    assert [e.snapshot_id for e in buf.peek(3, 10**9, newest_after=ids[3])] == ["s0", "s1", "s5"]
    assert [e.snapshot_id for e in buf.peek(3, 10**9, newest_after=ids[5])] == ["s0", "s1", "s2"]
    assert [e.snapshot_id for e in buf.peek(1, 10**9, newest_after=0)] == ["s5"]
    # the byte budget keeps room for the newest; at most `limit` and never fewer than one
    assert [e.snapshot_id for e in buf.peek(4, 4500, newest_after=0)] == ["s0", "s5"]
    assert [e.snapshot_id for e in buf.peek(4, 1, newest_after=0)] == ["s5"]
    # everything fits: plain FIFO
    assert len(buf.peek(10, 10**9, newest_after=0)) == 6
    assert buf.newest_id() == ids[5]


def test_bound_drops_oldest_and_counts(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.db", 6000)
    dropped = sum(buf.append(f"s{i}", body(i, pad=1000)) for i in range(10))
    assert dropped > 0
    assert buf.dropped_total == dropped
    assert buf.size_bytes <= 6000
    ids = [e.snapshot_id for e in buf.peek(100, 10**9)]
    assert ids == [f"s{i}" for i in range(10 - len(ids), 10)]  # the newest are kept, in order


def test_lowering_the_bound_trims(tmp_path: Path) -> None:
    buf = DurableBuffer(tmp_path / "b.db", 10**9)
    for i in range(10):
        buf.append(f"s{i}", body(i, pad=1000))
    assert buf.set_max_bytes(buf.size_bytes // 2) >= 5
    assert buf.peek(1, 10**9)[0].snapshot_id != "s0"


def test_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    code = (
        "import sys, os; from fleetwatch.agent.buffer import DurableBuffer;"
        f"b = DurableBuffer(__import__('pathlib').Path({str(path)!r}), 10**9);"
        "[b.append(f's{i}', b'{}') for i in range(20)];"
        "print('ok', flush=True); os.kill(os.getpid(), 9)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "ok"
    assert proc.returncode == -9
    buf = DurableBuffer(path, 10**9)
    assert len(buf) == 20
    assert buf.size_bytes > 0
