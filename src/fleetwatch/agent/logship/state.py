"""Where each followed log file was read up to, kept across agent restarts.

One small JSON file (`logship-state.json` beside the agent's config) maps a file key (the
path the agent follows) to the file being read there: device and inode, the committed byte
offset, a SHA-256 of its first bytes (to see a truncated and re-written or re-used file), a
generation counter (bumped whenever reading starts again from 0, so batch ids never repeat)
and the end of the batch in flight (`pending_end`, so a batch resent after a crash covers the
same bytes and keeps its id). It is rewritten atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("fleetwatch.agent.logship")

STATE_VERSION = 1
MAX_RETIRED = 200


@dataclass
class FileState:
    dev: int
    ino: int
    offset: int  # bytes committed (acknowledged by the hub)
    head: str = ""  # sha256 hex of the first `head_len` bytes
    head_len: int = 0
    generation: int = 0
    pending_end: int | None = None  # end offset of the batch in flight
    skipping: bool = False  # inside an over-long line whose start was already shipped, cut

    @classmethod
    def from_json(cls, data: Any) -> FileState | None:
        if not isinstance(data, dict):
            return None
        try:
            pending = data.get("pending_end")
            return cls(
                dev=int(data["dev"]),
                ino=int(data["ino"]),
                offset=max(0, int(data["offset"])),
                head=str(data.get("head", "")),
                head_len=int(data.get("head_len", 0)),
                generation=int(data.get("generation", 0)),
                pending_end=None if pending is None else int(pending),
                skipping=bool(data.get("skipping", False)),
            )
        except (KeyError, TypeError, ValueError):
            return None


class StateFile:
    """The on-disk state; `files` is edited in place, `save()` writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: dict[str, FileState] = {}
        self.journal_cursor: str | None = None  # "" = read from the journal's start
        self.journal_pending: str | None = None  # the last cursor of the batch in flight
        #: "dev:ino" → offset of files read to their end after a rotation (newest last)
        self.retired: dict[str, int] = {}
        self.existed = self._load()

    def _load(self) -> bool:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            log.warning("log shipping state %s unreadable (%s): starting afresh", self.path, exc)
            return False
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            log.warning("log shipping state %s has an unknown format: starting afresh", self.path)
            return False
        files = data.get("files")
        for key, value in (files if isinstance(files, dict) else {}).items():
            state = FileState.from_json(value)
            if state is not None:
                self.files[str(key)] = state
        retired = data.get("retired")
        for key, value in (retired if isinstance(retired, dict) else {}).items():
            if isinstance(value, int):
                self.retired[str(key)] = value
        cursor = data.get("journal_cursor")
        self.journal_cursor = cursor if isinstance(cursor, str) else None
        pending = data.get("journal_pending")
        self.journal_pending = pending if isinstance(pending, str) else None
        return True

    def save(self) -> None:
        """Write atomically: a reader (or a crash) sees the old file or the new one."""
        body = {
            "version": STATE_VERSION,
            "files": {key: asdict(state) for key, state in sorted(self.files.items())},
            "journal_cursor": self.journal_cursor,
            "journal_pending": self.journal_pending,
            "retired": dict(list(self.retired.items())[-MAX_RETIRED:]),
        }
        text = json.dumps(body, separators=(",", ":"))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
