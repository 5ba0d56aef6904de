"""The log tailer on real files: rotation, truncation, restarts, partial, long and bad lines."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetwatch.agent.logship.state import StateFile
from fleetwatch.agent.logship.tailer import MAX_LINE_BYTES, MAX_MESSAGE_CHARS, Chunk, TailedFile

Open = Callable[..., TailedFile]


@pytest.fixture
def open_tail() -> Iterator[Open]:
    """TailedFile(...) that is closed after the test."""
    made: list[TailedFile] = []

    def make(*args: object, **kwargs: object) -> TailedFile:
        tail = TailedFile(*args, **kwargs)  # type: ignore[arg-type]
        made.append(tail)
        return tail

    yield make
    for tail in made:
        tail.close()


def drain(tail: TailedFile, max_lines: int = 1000, max_bytes: int = 1 << 20) -> list[str]:
    """Read and commit everything there is now."""
    lines: list[str] = []
    while (chunk := tail.read_chunk(max_lines, max_bytes)) is not None:
        lines += chunk.lines
        tail.commit(chunk)
    return lines


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def test_follows_appends_and_holds_a_partial_line(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\nthr")
    tail = open_tail(str(path), None)
    assert drain(tail) == ["one", "two"]
    assert drain(tail) == []
    append(path, b"ee\nfour\r\n")
    assert drain(tail) == ["three", "four"]


def test_rotation_finishes_the_old_file_then_reads_the_new_one(
    tmp_path: Path, open_tail: Open
) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a1\na2\n")
    tail = open_tail(str(path), None)
    assert drain(tail) == ["a1", "a2"]
    append(path, b"a3\na4-no-newline")
    os.rename(path, tmp_path / "app.log.1")
    path.write_bytes(b"b1\n")
    assert drain(tail) == ["a3", "a4-no-newline", "b1"]
    append(path, b"b2\n")
    assert drain(tail) == ["b2"]


def test_truncation_starts_again_from_zero(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"x" * 50 + b"\n" + b"y" * 50 + b"\n")
    tail = open_tail(str(path), None)
    assert len(drain(tail)) == 2
    with open(path, "wb") as fh:  # truncate, then a shorter first line
        fh.write(b"fresh\n")
    assert drain(tail) == ["fresh"]


def test_replaced_content_longer_than_the_offset_is_seen(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"first version\n")
    tail = open_tail(str(path), None)
    assert drain(tail) == ["first version"]
    with open(path, "r+b") as fh:  # same inode, rewritten and longer than before
        fh.truncate(0)
        fh.write(b"second version, longer\nmore\n")
    assert drain(tail) == ["second version, longer", "more"]


def test_offsets_survive_a_restart_even_across_rotation(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    state_path = tmp_path / "state.json"
    path.write_bytes(b"1\n2\n")
    state = StateFile(state_path)
    tail = open_tail(str(path), None)
    assert drain(tail) == ["1", "2"]
    assert tail.state is not None
    state.files[str(path)] = tail.state
    state.save()
    tail.close()
    # while the agent is down: more lines, then a rotation and a new file
    append(path, b"3\n")
    os.rename(path, tmp_path / "app.log.1")
    path.write_bytes(b"4\n")
    again = StateFile(state_path)
    assert again.existed and again.files[str(path)].offset == 4
    tail = open_tail(str(path), again.files[str(path)])
    assert drain(tail) == ["3", "4"]


def test_a_pending_batch_is_reread_exactly(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\nb\n")
    state_path = tmp_path / "state.json"
    state = StateFile(state_path)
    tail = open_tail(str(path), None)
    chunk = tail.read_chunk(1000, 1 << 20)
    assert chunk is not None and chunk.lines == ["a", "b"]
    tail.mark_pending(chunk)
    assert tail.state is not None
    state.files[str(path)] = tail.state
    state.save()  # "crash" after sending, before the commit
    append(path, b"c\n")
    tail2 = open_tail(str(path), StateFile(state_path).files[str(path)])
    again = tail2.read_chunk(1000, 1 << 20)
    assert again is not None
    assert (again.lines, again.batch_id) == (["a", "b"], chunk.batch_id)
    tail2.commit(again)
    assert drain(tail2) == ["c"]


def test_batch_ids_differ_after_truncation(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"same\n")
    tail = open_tail(str(path), None)
    first = tail.read_chunk(10, 1 << 20)
    assert isinstance(first, Chunk)
    tail.commit(first)
    path.write_bytes(b"")
    assert tail.read_chunk(10, 1 << 20) is None
    path.write_bytes(b"same\n")
    second = tail.read_chunk(10, 1 << 20)
    assert second is not None and second.lines == ["same"]
    assert second.batch_id != first.batch_id


def test_long_lines_are_cut_and_marked(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    huge = b"h" * (3 * MAX_LINE_BYTES)
    medium = b"m" * 20000
    path.write_bytes(b"before\n" + huge + b"\n" + medium + b"\nafter\n")
    lines = drain(open_tail(str(path), None))
    assert lines[0] == "before" and lines[-1] == "after" and len(lines) == 4
    assert lines[1].startswith("hhhh") and "…[cut " in lines[1]
    assert len(lines[1]) <= MAX_MESSAGE_CHARS
    assert lines[2].endswith(f"…[cut {20000 - (MAX_MESSAGE_CHARS - 40)} bytes]")
    assert len(lines[2]) <= MAX_MESSAGE_CHARS


def test_an_unterminated_long_line_does_not_block_the_file(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"z" * (MAX_LINE_BYTES + 10))
    tail = open_tail(str(path), None)
    first = drain(tail)
    assert len(first) == 1 and "…[cut " in first[0]
    append(path, b"zzz tail of the long line\nnext\n")
    assert drain(tail) == ["next"]


def test_invalid_utf8_and_nuls(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"caf\xc3\xa9 ok\nbad \xff\xfe bytes\nnul\x00\x00s\n\x00\x01\x02\n")
    assert drain(open_tail(str(path), None)) == [
        "café ok",
        "bad \ufffd\ufffd bytes",
        "nuls",
        "\x01\x02",
    ]


def test_max_lines_and_budget_split_batches(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(25)))
    tail = open_tail(str(path), None)
    sizes = []
    while (chunk := tail.read_chunk(10, 1 << 20)) is not None:
        sizes.append(len(chunk.lines))
        tail.commit(chunk)
    assert sizes == [10, 10, 5]
    chunk_budget = open_tail(str(path), None).read_chunk(1000, 20)
    assert chunk_budget is not None and len(chunk_budget.lines) == 3  # 7+7+7 bytes pass 20


def test_a_deleted_file_is_read_to_its_end_then_gone(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n")
    tail = open_tail(str(path), None)
    assert drain(tail) == ["1"]
    append(path, b"2\n")
    path.unlink()
    assert drain(tail) == ["2"]
    assert tail.gone


def test_start_at_end_for_a_first_run(tmp_path: Path, open_tail: Open) -> None:
    path = tmp_path / "syslog"
    path.write_bytes(b"old history\n")
    tail = open_tail(str(path), None, from_end=True)
    assert drain(tail) == []
    append(path, b"new\n")
    assert drain(tail) == ["new"]
