"""The alert engine's input: every committed snapshot exactly once, whichever hub process
committed it.

Only the elected leader runs the engine. Snapshots that *this* process committed reach it
in-process (`SnapshotCommitted` on the event bus: the validated model, no decoding; `claim`).
Snapshots that other processes committed (uvicorn workers on one SQLite file, replicas on
PostgreSQL) are read back from the `snapshots` table (`plan` / `poll` / `settle`): every poll
reads the newest row id; ids above the last one settled that no local event claimed become
*waiting*; an id still unclaimed `grace_seconds` later is fetched from the store and decoded
into readings (`readings.py`). With one process, a poll is a single `max(id)` query.

Row ids grow in commit order on SQLite (writers are serialised). On PostgreSQL a sequence hands
out ids at insert time, so a transaction can commit a lower id after a higher one became
visible: a waiting id that is not found is asked for again until `hole_seconds` passed (then it
belonged to a rolled-back batch). Ids read from the store are remembered for `hole_seconds`,
so a local event that arrives after its row was read (a very late event loop) is not
evaluated twice. A full event queue drops events; their rows are then read from the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from fleetwatch.hub.alerts.metrics import Reading
from fleetwatch.hub.alerts.readings import read_doc
from fleetwatch.hub.events import SnapshotCommitted
from fleetwatch.hub.store import codec
from fleetwatch.hub.store.tables import snapshots

_t = snapshots
_BY_ID = select(_t.c.id, _t.c.server_id, _t.c.ts, _t.c.detail).where(
    _t.c.id.in_(bindparam("ids", expanding=True))
)
_MAX_ID = select(func.max(_t.c.id))
#: at most this many ids wait at once (more are noticed by later polls)
MAX_WAITING = 10_000
CHUNK = 500


@dataclass(frozen=True)
class Committed:
    """One committed snapshot as the engine needs it: who, when, and the readings."""

    server_id: str
    ts: float
    readings: dict[str, Reading]


@dataclass(frozen=True, slots=True)
class Relayed:
    """Snapshots of `server_id` that another hub process (an ingest worker) committed in one
    write: `(row_id, ts, readings)` each, the readings read there (`dispatch/relay.py`), so
    they are taken like local ones, no decoding. Readings are None where the worker's relay
    filter found nothing an alert rule could act on: the row is only counted as seen."""

    server_id: str
    rows: tuple[tuple[int, float, dict[str, Reading] | None], ...]


@dataclass(frozen=True)
class Polled:
    """What one poll read (in a reader thread): the newest id, the rows asked for."""

    top: int
    found: dict[int, Committed | None]  # None: a row this engine cannot decode


class SnapshotFeed:
    def __init__(
        self, batch_rows: int = 2000, hole_seconds: float = 30.0, grace_seconds: float = 0.5
    ) -> None:
        self.batch_rows = batch_rows
        self.hole_seconds = hole_seconds
        self.grace_seconds = grace_seconds
        self.after: int | None = None  # every id <= after is settled
        self.noticed = 0  # every id <= noticed is claimed, waiting or settled
        self.claimed: set[int] = set()  # ids > after evaluated from local events
        self.waiting: dict[int, float] = {}  # id > after -> first noticed (monotonic)
        self.fetched: dict[int, float] = {}  # ids read from the store -> when (monotonic)
        self.rows_read = 0

    def start(self, conn: Connection) -> None:
        """Begin after the newest row committed so far (older snapshots are not evaluated)."""
        self.after = self.noticed = int(conn.execute(_MAX_ID).scalar() or 0)
        self.claimed.clear()
        self.waiting.clear()
        self.fetched.clear()

    def claim(self, row_id: int) -> bool:
        """A local event for `row_id`: True when it is to be evaluated (not seen before)."""
        if row_id in self.fetched or row_id in self.claimed:
            return False
        if self.after is None or row_id > self.after:
            self.claimed.add(row_id)
            self.waiting.pop(row_id, None)
        return True

    def take(
        self,
        events: Sequence[SnapshotCommitted | Relayed],
        seen: dict[str, float],
        readers: Sequence[tuple[str, Callable[[Any], Reading]]],
        in_trouble: Callable[[str], bool],
    ) -> list[Committed]:
        """Local events -> the snapshots to evaluate, claimed. A committed model is read with
        `readers`. A row relayed without readings (the worker's filter found nothing in it,
        `dispatch/relay.py`) only counts as seen: `seen` gets each server's newest, which
        orders later snapshots (an older one is not evaluated). Unless its server is
        `in_trouble` or has a snapshot with readings earlier in this batch (the workers' filter
        can lag the engine by a moment): such a row stays unclaimed, so it is read back from
        the store (`plan` / `poll` / `settle`) and evaluated in full."""
        out = []
        claim = self.claim
        hot: set[str] = set()  # servers with a snapshot to evaluate in this batch
        for ev in events:
            server_id = ev.server_id
            if isinstance(ev, Relayed):
                for row_id, ts, readings in ev.rows:
                    if readings is not None:
                        if claim(row_id) and ts >= seen.get(server_id, 0.0):
                            out.append(Committed(server_id, ts, readings))
                            hot.add(server_id)
                    elif server_id in hot or in_trouble(server_id):
                        continue  # unclaimed: read back from the store, evaluated in full
                    elif claim(row_id) and ts > seen.get(server_id, 0.0):
                        seen[server_id] = ts
            elif claim(ev.row_id) and ev.ts >= seen.get(server_id, 0.0):
                model = ev.snapshot
                out.append(Committed(server_id, ev.ts, {m: read(model) for m, read in readers}))
                hot.add(server_id)
        return out

    def plan(self) -> list[int]:
        """Waiting ids to read from the store now (oldest first, at most `batch_rows`)."""
        now = time.monotonic()
        due = [i for i, t in self.waiting.items() if now - t >= self.grace_seconds]
        due.sort()
        return due[: self.batch_rows]

    def poll(self, conn: Connection, ids: list[int], metrics: Iterable[str]) -> Polled:
        """(Reader thread) the newest id, and the rows `ids` decoded into readings."""
        wanted = tuple(metrics)
        top = int(conn.execute(_MAX_ID).scalar() or 0)
        found: dict[int, Committed | None] = {}
        for start in range(0, len(ids), CHUNK):
            for row in conn.execute(_BY_ID, {"ids": ids[start : start + CHUNK]}):
                try:
                    readings = read_doc(codec.unpack(row.detail), wanted)
                except (KeyError, TypeError, ValueError, AttributeError):
                    found[int(row.id)] = None  # not a snapshot document this engine reads
                    continue
                found[int(row.id)] = Committed(row.server_id, float(row.ts), readings)
        return Polled(top, found)

    def settle(self, asked: list[int], polled: Polled) -> list[Committed]:
        """Book a poll's answer (event loop thread); the rows to evaluate, oldest first."""
        now = time.monotonic()
        if self.after is None:
            self.after = self.noticed = polled.top
        out: list[Committed] = []
        for row_id in asked:
            if row_id not in polled.found:
                if now - self.waiting.get(row_id, now) >= self.hole_seconds:
                    self.waiting.pop(row_id, None)  # never committed: give up
                continue
            self.waiting.pop(row_id, None)
            committed = polled.found[row_id]
            if row_id in self.claimed:
                continue  # its local event arrived while the store was read
            self.fetched[row_id] = now
            if committed is not None:
                out.append(committed)
        self.rows_read += len(out)
        self._notice(polled.top, now)
        return out

    def _notice(self, top: int, now: float) -> None:
        """Ids up to `top` nobody claimed start waiting; move `after` past settled ids."""
        room = MAX_WAITING - len(self.waiting)
        last = min(top, self.noticed + max(room, 0))
        for row_id in range(self.noticed + 1, last + 1):
            if row_id not in self.claimed:
                self.waiting[row_id] = now
        self.noticed = max(self.noticed, last)
        self.after = min(self.waiting) - 1 if self.waiting else self.noticed
        if self.claimed:
            self.claimed = {i for i in self.claimed if i > self.after}
        if self.fetched:
            self.fetched = {i: t for i, t in self.fetched.items() if now - t < self.hole_seconds}
