"""The alert engine's input: snapshots committed by *any* hub process, tailed from the store.

With several hub processes (uvicorn workers on one SQLite file, replicas on PostgreSQL) only
the elected leader runs the engine, so it cannot rely on an in-process event: it follows the
`snapshots` table by row id instead (`poll`, in a reader thread). Each poll reads the rows after
the last one seen, decodes their documents and keeps only the alert readings.

Row ids grow in commit order on SQLite (writers are serialised and a new row id is the largest
plus one). On PostgreSQL a sequence hands out ids at insert time, so a transaction can commit a
lower id after a higher one became visible: ids skipped by a poll are remembered as *holes* and
asked for again until `hole_seconds` passed (then they belonged to a rolled-back batch).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, select

from fleetwatch.hub.alerts.metrics import Reading
from fleetwatch.hub.alerts.readings import read_doc
from fleetwatch.hub.store import codec
from fleetwatch.hub.store.tables import snapshots

_t = snapshots
_AFTER = (
    select(_t.c.id, _t.c.server_id, _t.c.ts, _t.c.detail)
    .where(_t.c.id > bindparam("after"))
    .order_by(_t.c.id)
    .limit(bindparam("limit"))
)
_HOLES = select(_t.c.id, _t.c.server_id, _t.c.ts, _t.c.detail).where(
    _t.c.id.in_(bindparam("ids", expanding=True))
)
MAX_HOLES = 10_000


@dataclass(frozen=True)
class Committed:
    """One committed snapshot as the engine needs it: who, when, and the readings."""

    server_id: str
    ts: float
    readings: dict[str, Reading]


class SnapshotFeed:
    def __init__(self, batch_rows: int = 2000, hole_seconds: float = 30.0) -> None:
        self.batch_rows = batch_rows
        self.hole_seconds = hole_seconds
        self.after: int | None = None
        self.holes: dict[int, float] = {}  # row id -> when first missed (monotonic)
        self.rows_read = 0

    def start(self, conn: Connection) -> None:
        """Begin after the newest row committed so far (older snapshots are not evaluated)."""
        self.after = int(conn.execute(select(func.max(_t.c.id))).scalar() or 0)
        self.holes.clear()

    def poll(self, conn: Connection, metrics: Iterable[str]) -> list[Committed]:
        """Snapshots committed since the last poll (oldest first), decoded into readings."""
        if self.after is None:
            self.start(conn)
        wanted = tuple(metrics)
        rows = list(conn.execute(_AFTER, {"after": self.after, "limit": self.batch_rows}))
        now = time.monotonic()
        late = []
        if self.holes:
            late = list(conn.execute(_HOLES, {"ids": list(self.holes)}))
            for row in late:
                self.holes.pop(int(row.id), None)
            self.holes = {i: t for i, t in self.holes.items() if now - t < self.hole_seconds}
        expected = (self.after or 0) + 1
        for row in rows:
            row_id = int(row.id)
            for missing in range(expected, min(row_id, expected + MAX_HOLES)):
                self.holes.setdefault(missing, now)
            expected = row_id + 1
        if rows:
            self.after = int(rows[-1].id)
        if len(self.holes) > MAX_HOLES:
            self.holes = dict(sorted(self.holes.items())[-MAX_HOLES:])
        out = []
        for row in [*late, *rows]:
            try:
                readings = read_doc(codec.unpack(row.detail), wanted)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # not a snapshot document this engine understands: nothing to say
            out.append(Committed(row.server_id, float(row.ts), readings))
        self.rows_read += len(out)
        return out
