"""Following one log file by its path, across rotation and truncation.

A `TailedFile` reads whole lines from the committed offset of the file it holds open and
hands them out as a `Chunk` (start and end byte offsets, the lines); the offset moves only
when the shipper calls `commit()` after the hub's 200. Cases:

* rotation (the path now names another inode, or nothing): the old file, still open, is read
  to its end first (its last line even without a newline), then the new file from byte 0;
  after a restart the old inode is looked for among the path's siblings (`app.log.1`, …);
* truncation (size below the offset) or re-use (the first bytes changed): read again from 0;
* a partial last line is held until its newline arrives;
* a line longer than `MAX_LINE_BYTES` is shipped as its first characters plus
  `…[cut N bytes]` and the rest of it, up to its newline, is skipped; any line longer than
  `MAX_MESSAGE_CHARS` is cut the same way (the hub's limit);
* invalid UTF-8 becomes U+FFFD, NUL bytes are removed, a trailing CR is dropped.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fleetwatch.agent.logship.state import FileState

log = logging.getLogger("fleetwatch.agent.logship")

MAX_LINE_BYTES = 1024 * 1024
MAX_MESSAGE_CHARS = 16384
HEAD_BYTES = 256
#: bytes decoded from an over-long line
_CUT_DECODE_BYTES = 4 * MAX_MESSAGE_CHARS


@dataclass(frozen=True)
class Chunk:
    key: str
    ino: int
    generation: int
    start: int
    end: int
    lines: list[str]
    skipping_after: bool

    @property
    def batch_id(self) -> str:
        """Deterministic: the same bytes of the same file always give the same id."""
        text = f"{self.key}\0{self.ino}\0{self.generation}\0{self.start}\0{self.end}"
        return "fl1-" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:48]


def cut(text: str, total_bytes: int) -> str:
    """At most `MAX_MESSAGE_CHARS` characters, ending with `…[cut N bytes]`."""
    keep = text[: MAX_MESSAGE_CHARS - 40]
    dropped = max(0, total_bytes - len(keep.encode("utf-8")))
    return f"{keep}…[cut {dropped} bytes]"


def clean(raw: bytes) -> str:
    """One line's bytes as text: NULs removed, CR dropped, invalid UTF-8 replaced, cut."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    raw = raw.replace(b"\x00", b"")
    text = raw.decode("utf-8", "replace")
    return cut(text, len(raw)) if len(text) > MAX_MESSAGE_CHARS else text


def _head_hash(fh: BinaryIO, length: int) -> str:
    fh.seek(0)
    return hashlib.sha256(fh.read(length)).hexdigest()


class TailedFile:
    """One followed path. `state` is shared with the `StateFile` (edited in place)."""

    def __init__(self, key: str, state: FileState | None, *, from_end: bool = False) -> None:
        self.key = key
        self.path = Path(key)
        self.state = state
        self.from_end = from_end
        self.fh: BinaryIO | None = None
        self.gone = False  # the path vanished and its last file was read to the end
        #: (dev, ino, offset) of files read to their end after a rotation, for the shipper:
        #: a glob matching the rotated name must not ship that file again
        self.retired: list[tuple[int, int, int]] = []

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    # --- opening --------------------------------------------------------------------------

    def _reset(self, fh: BinaryIO, why: str) -> None:
        assert self.state is not None
        log.info("%s %s: reading it again from the start", self.key, why)
        size = os.fstat(fh.fileno()).st_size
        self.state.offset, self.state.pending_end, self.state.skipping = 0, None, False
        self.state.generation += 1
        self.state.head_len = min(HEAD_BYTES, size)
        self.state.head = _head_hash(fh, self.state.head_len)

    def _find_predecessor(self, state: FileState) -> Path | None:
        """After a restart: the rotated file (same device and inode) beside the path."""
        try:
            siblings = list(self.path.parent.iterdir())
        except OSError:
            return None
        for sibling in siblings:
            if sibling.name.startswith(self.path.name) and sibling != self.path:
                try:
                    st = sibling.stat()
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) == (state.dev, state.ino):
                    return sibling
        return None

    def _open_new(self, generation: int) -> None:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - held open across polls
        except OSError:
            return
        st = os.fstat(fh.fileno())
        offset = st.st_size if self.from_end else 0
        head_len = min(HEAD_BYTES, st.st_size)
        head = _head_hash(fh, head_len)
        self.state = FileState(st.st_dev, st.st_ino, offset, head, head_len, generation)
        self.fh, self.from_end = fh, False

    def attach(self) -> None:
        """Open the file the state names (or its rotated predecessor), else the path's."""
        state = self.state
        if state is None:
            self._open_new(0)
            return
        try:
            st = self.path.stat()
            same = (st.st_dev, st.st_ino) == (state.dev, state.ino)
        except OSError:
            same = False
        where: Path | None = self.path if same else self._find_predecessor(state)
        if where is None:
            if state.offset or state.pending_end:
                log.warning("%s: the file read before is gone; following the new one", self.key)
            self._open_new(state.generation + 1)
            return
        try:
            fh = open(where, "rb")  # noqa: SIM115 - held open across polls
        except OSError:
            return
        self.fh = fh
        self._check_truncation(fh, state.pending_end or state.offset)

    # --- reading --------------------------------------------------------------------------

    def _detached(self) -> bool:
        """True when the path no longer names the open file (rotated or deleted)."""
        assert self.state is not None
        try:
            st = self.path.stat()
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != (self.state.dev, self.state.ino)

    def _check_truncation(self, fh: BinaryIO, needed: int) -> None:
        """Start again from 0 when the file is shorter than `needed` or its head changed."""
        state = self.state
        assert state is not None
        size = os.fstat(fh.fileno()).st_size
        if size < needed:
            self._reset(fh, "was truncated")
        elif state.head_len and _head_hash(fh, state.head_len) != state.head:
            self._reset(fh, "was replaced")

    def read_chunk(self, max_lines: int, max_bytes: int) -> Chunk | None:
        """The next lines after the committed offset (the batch in flight again, if any)."""
        if self.fh is None:
            self.attach()
        if self.fh is None or self.state is None:
            return None
        state = self.state
        if state.pending_end is not None and state.pending_end > state.offset:
            self._check_truncation(self.fh, state.pending_end)
        if state.pending_end is not None and state.pending_end > state.offset:
            return self._read(state.pending_end - state.offset, 1 << 30, exact=True)
        state.pending_end = None
        self._check_truncation(self.fh, state.offset)
        detached = self._detached()
        chunk = self._read(MAX_LINE_BYTES + 1, max_lines, final=detached, budget=max_bytes)
        if chunk is not None or not detached:
            return chunk
        self.close()  # the rotated or deleted file is done: follow the path's new file
        self.retired.append((state.dev, state.ino, state.offset))
        if not self.path.exists():
            self.gone = True
            return None
        self._open_new(state.generation + 1)
        return self.read_chunk(max_lines, max_bytes) if self.fh is not None else None

    def _read(
        self,
        size: int,
        max_lines: int,
        *,
        final: bool = False,
        exact: bool = False,
        budget: int = 1 << 30,
    ) -> Chunk | None:
        state, fh = self.state, self.fh
        assert state is not None and fh is not None
        fh.seek(state.offset)
        data = fh.read(size)
        lines: list[str] = []
        pos, skipping = 0, state.skipping
        while len(lines) < max_lines and pos < len(data) and (exact or pos < budget):
            newline = data.find(b"\n", pos)
            if newline < 0:
                break
            raw, pos = data[pos:newline], newline + 1
            if skipping:  # the end of a line already shipped cut
                skipping = False
                continue
            lines.append(clean(raw))
        rest = len(data) - pos
        if rest and len(lines) < max_lines and (exact or pos < budget):
            if skipping:
                pos = len(data)
            elif rest >= MAX_LINE_BYTES:
                text = data[pos : pos + _CUT_DECODE_BYTES].replace(b"\x00", b"")
                lines.append(cut(text.decode("utf-8", "replace"), rest))
                pos, skipping = len(data), True
            elif final or exact:
                lines.append(clean(data[pos:]))
                pos = len(data)
        if pos == 0:
            return None
        start = state.offset
        return Chunk(self.key, state.ino, state.generation, start, start + pos, lines, skipping)

    def mark_pending(self, chunk: Chunk) -> None:
        if self.state is not None and self.state.ino == chunk.ino:
            self.state.pending_end = chunk.end

    def commit(self, chunk: Chunk) -> None:
        """The hub stored `chunk`: move the offset past it."""
        state = self.state
        if state is None or state.ino != chunk.ino or state.generation != chunk.generation:
            return
        state.offset, state.pending_end, state.skipping = chunk.end, None, chunk.skipping_after
        if state.head_len < HEAD_BYTES and self.fh is not None:
            state.head_len = min(HEAD_BYTES, os.fstat(self.fh.fileno()).st_size)
            state.head = _head_hash(self.fh, state.head_len)
