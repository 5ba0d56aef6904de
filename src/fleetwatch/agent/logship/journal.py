"""The systemd journal as a log source (`logs.journal: true`), read through `journalctl`.

Each pass runs `journalctl -o json --no-pager --after-cursor <cursor>` and reads at most
`logs.batch_lines` entries (then stops the process). An entry becomes one line: its
`MESSAGE` (a byte-array message decoded as UTF-8 with replacement), `PRIORITY` as the level
(0-2 critical, 3 error, 4 warning, 5-6 info, 7 debug), `SYSLOG_IDENTIFIER` (else `_COMM`,
else the unit) as the app, the unit as the source, `__REALTIME_TIMESTAMP` as the time.

The first start (no cursor kept) begins after the journal's newest entry, as a file is
followed from its end: the past stays in the journal. Exactly once, as for files: the batch's
last cursor is kept as `journal_pending` before it is sent, the cursor moves only after the
hub's 200, and a batch resent after a crash ends at that same entry, so its id (derived from
its first and last cursors) is the same and the hub ignores it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetwatch.agent.logship.discovery import MAX_APP_CHARS, MAX_SOURCE_CHARS
from fleetwatch.agent.logship.state import StateFile

log = logging.getLogger("fleetwatch.agent.logship")

LEVELS = ("critical", "critical", "critical", "error", "warning", "info", "info", "debug")
RUN_TIMEOUT_SECONDS = 10.0


@dataclass
class JournalBatch:
    first: str
    last: str
    lines: list[dict[str, Any]]

    @property
    def batch_id(self) -> str:
        text = f"journal\0{self.first}\0{self.last}"
        return "jr1-" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:48]


def _message(raw: Any) -> str:
    if isinstance(raw, list):  # journald's form of a message that is not valid text
        return bytes(b & 0xFF for b in raw if isinstance(b, int)).decode("utf-8", "replace")
    return raw if isinstance(raw, str) else ""


def wire_line(entry: dict[str, Any], read_at: float) -> dict[str, Any]:
    """One journal entry as a `POST /api/logs` line."""
    try:
        level = LEVELS[int(entry.get("PRIORITY", 6))]
    except (TypeError, ValueError, IndexError):
        level = "info"
    try:
        ts = int(entry["__REALTIME_TIMESTAMP"]) / 1e6
    except (KeyError, TypeError, ValueError):
        ts = read_at
    unit = entry.get("_SYSTEMD_UNIT") or ""
    app = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or unit or "journal"
    return {
        "ts": round(ts, 3),
        "app": str(app)[:MAX_APP_CHARS],
        "source": f"journal:{unit}"[:MAX_SOURCE_CHARS] if unit else "journal",
        "level": level,
        "message": _message(entry.get("MESSAGE")).replace("\x00", ""),
    }


class Journal:
    """Reads `journalctl`; None from `find()` where there is none."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    @classmethod
    def find(cls) -> Journal | None:
        binary = shutil.which("journalctl")
        return None if binary is None else cls(binary)

    def _run(self, args: list[str], limit: int, until: str | None) -> list[dict[str, Any]]:
        cmd = [self.binary, "-o", "json", "--no-pager", *args]
        entries: list[dict[str, Any]] = []
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        ) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("__CURSOR"), str):
                    entries.append(entry)
                if len(entries) >= limit or (until is not None and entry.get("__CURSOR") == until):
                    break
            proc.kill()
            _, err = proc.communicate(timeout=RUN_TIMEOUT_SECONDS)
        if not entries and proc.returncode not in (0, -9) and err:
            log.warning("journalctl failed: %s", err.decode("utf-8", "replace").strip()[:300])
        return entries

    def newest_cursor(self) -> str | None:
        """The cursor of the journal's newest entry (where a first start begins)."""
        found = self._run(["-n", "1"], 1, None)
        return str(found[-1]["__CURSOR"]) if found else None

    def read(
        self, cursor: str | None, limit: int, until: str | None, read_at: float
    ) -> JournalBatch | None:
        """The entries after `cursor` (from the journal's start when None): at most `limit`,
        and up to and including `until` (a batch resent after a crash ends there)."""
        args = ["--after-cursor", cursor] if cursor else []
        entries = self._run(args, limit, until)
        if not entries:
            return None
        lines = [wire_line(e, read_at) for e in entries]
        return JournalBatch(str(entries[0]["__CURSOR"]), str(entries[-1]["__CURSOR"]), lines)


class JournalFeed:
    """The shipper's journal pass: `send(body, lines)` is the shipper's (True once the hub
    took the batch), `may_go()` says whether time and the byte budget allow another batch."""

    def __init__(self, state: StateFile) -> None:
        self.state = state
        self.journal: Journal | None = None
        self.missing = False

    def _ready(self) -> Journal | None:
        if self.journal is None and not self.missing:
            self.journal = Journal.find()
            if self.journal is None:
                self.missing = True
                log.warning("logs.journal is on but there is no journalctl here: not shipped")
        return self.journal

    def ship(
        self, limit: int, send: Callable[[bytes, int], bool], may_go: Callable[[], bool]
    ) -> None:
        journal = self._ready()
        if journal is None:
            return
        st = self.state
        if st.journal_cursor is None:  # first start: from the newest entry on
            st.journal_cursor = journal.newest_cursor() or ""
            st.save()
        while may_go():
            batch = journal.read(st.journal_cursor or None, limit, st.journal_pending, time.time())
            if batch is None:
                st.journal_pending = None
                return
            st.journal_pending = batch.last
            st.save()
            body = json.dumps({"batch_id": batch.batch_id, "lines": batch.lines}).encode()
            if not send(body, len(batch.lines)):
                return
            st.journal_cursor, st.journal_pending = batch.last, None
            st.save()
            if len(batch.lines) < limit:
                return
