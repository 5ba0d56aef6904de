"""Export (H18): every server's identity, latest numbers and metric history as JSON or CSV.

Both formats are streamed one server at a time, so memory stays flat however big the fleet.
History comes from the finest tier whose retention covers the range (`resolution=auto`), or
the tier asked for; rows are not downsampled. Each row carries avg/min/max per hot metric
(raw rows: all three are the sample itself).

CSV cells are safe to open in a spreadsheet: text starting with `=`, `+`, `-`, `@`, tab or CR
gets a leading `'` so it is never evaluated as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, select

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services.dashboard import IDENTITY_COLUMNS, server_identity
from fleetwatch.hub.services.servers import hot_summary
from fleetwatch.hub.services.settings import DashboardSettings, get_settings
from fleetwatch.hub.store import hours, tables
from fleetwatch.hub.store.codec import unpack
from fleetwatch.hub.store.rollups import high, low

RESOLUTIONS = ("auto", "raw", "1m", "1h")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
IDENTITY_FIELDS = ("server_id", "hostname", "display_name", "group_name")

#: no upper bound (epoch seconds far in the future)
_OPEN_END = 1e12


def safe_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not evaluate as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def pick_resolution(hours: float, settings: DashboardSettings, wanted: str = "auto") -> str:
    """`wanted` unless `auto`: then the finest tier that still holds the whole range."""
    if wanted != "auto":
        return wanted
    if hours <= settings.raw_retention_hours:
        return "raw"
    if hours <= settings.rollup_1m_retention_days * 24:
        return "1m"
    return "1h"


def metric_columns() -> list[str]:
    cols: list[str] = []
    for name in tables.HOT_METRICS:
        cols += [name, f"{name}_min", f"{name}_max"]
    return cols


def csv_header() -> list[str]:
    return [*IDENTITY_FIELDS, "time_utc", "ts", "resolution", *metric_columns()]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_points(
    conn: Connection, server_id: str, start: float, resolution: str
) -> list[tuple[float, list[float | None]]]:
    """(ts, [avg, min, max per hot metric]) rows of one server since `start`, oldest first."""
    out: list[tuple[float, list[float | None]]] = []
    if resolution == "raw":
        raw = tables.snapshots
        rows = conn.execute(
            select(raw.c.ts, *(raw.c[n] for n in tables.HOT_METRICS))
            .where(raw.c.server_id == server_id, raw.c.ts >= start)
            .order_by(raw.c.ts)
        ).all()
        for r in rows:
            values: list[float | None] = []
            for v in r[1:]:
                values += [v, v, v]
            out.append((float(r[0]), values))
        return out
    # the 1-hour tier with the server's open hour folded from its minutes (store/hours.py)
    t: Any = tables.rollup_1m if resolution == "1m" else hours.hour_tier(conn.dialect.name)
    cols = []
    for n in tables.HOT_METRICS:
        cols += [t.c[f"{n}_sum"], t.c[f"{n}_n"], low(t, n), high(t, n)]
    in_range = (
        t.c.server_id == bindparam("server_id"),
        t.c.bucket >= bindparam("start"),
        t.c.bucket < bindparam("until"),
    )
    rows = conn.execute(
        select(t.c.bucket, *cols).where(*in_range).order_by(t.c.bucket),
        {"server_id": server_id, "start": start, "until": _OPEN_END},
    ).all()
    for r in rows:
        values = []
        for i in range(len(tables.HOT_METRICS)):
            total, n, lo, hi = r[1 + 4 * i : 5 + 4 * i]
            values += [total / n if n and total is not None else None, lo, hi]
        out.append((float(r[0]), values))
    return out


def _read_servers(conn: Connection) -> tuple[list[Any], dict[str, str]]:
    s = tables.servers.c
    rows = list(
        conn.execute(
            select(*(s[c] for c in IDENTITY_COLUMNS)).order_by(s.group_name, s.hostname)
        ).all()
    )
    colors = {r.name: r.color for r in conn.execute(select(tables.groups)).all()}
    return rows, colors


def _read_latest(conn: Connection, server_id: str) -> dict[str, Any]:
    blob = conn.execute(
        select(tables.servers.c.latest).where(tables.servers.c.id == server_id)
    ).scalar()
    return hot_summary(unpack(blob))


class Export:
    """One export run: the range, the tier and the servers, read once at the start."""

    def __init__(self, ctx: HubContext, hours: float, resolution: str = "auto") -> None:
        self.ctx = ctx
        self.hours = hours
        self.wanted = resolution
        self.now = time.time()
        self.start = self.now - hours * 3600.0

    async def prepare(self) -> None:
        self.settings = await get_settings(self.ctx)
        self.resolution = pick_resolution(self.hours, self.settings, self.wanted)
        self.rows, self.colors = await self.ctx.db.read(_read_servers)

    def filename(self, extension: str) -> str:
        stamp = datetime.fromtimestamp(self.now, UTC).strftime("%Y%m%dT%H%M%SZ")
        return f"fleetwatch-export-{stamp}.{extension}"

    async def _points(self, server_id: str) -> list[tuple[float, list[float | None]]]:
        return await self.ctx.db.read(
            lambda conn: read_points(conn, server_id, self.start, self.resolution)
        )

    async def csv_chunks(self) -> AsyncIterator[bytes]:
        yield _csv_lines([csv_header()])
        for row in self.rows:
            ident = [row.id, row.hostname, row.display_name or "", row.group_name or ""]
            points = await self._points(row.id)
            for i in range(0, len(points), 2000):
                chunk = points[i : i + 2000]
                yield _csv_lines([*ident, iso(ts), ts, self.resolution, *v] for ts, v in chunk)

    async def json_chunks(self) -> AsyncIterator[bytes]:
        head = {
            "exported_at": iso(self.now),
            "hours": self.hours,
            "resolution": self.resolution,
            "columns": ["time_utc", "ts", *metric_columns()],
        }
        yield orjson.dumps(head)[:-1] + b', "servers": ['
        names = metric_columns()
        for i, row in enumerate(self.rows):
            ident = server_identity(row, self.colors, self.settings, self.now)
            latest = await self.ctx.db.read(partial(_read_latest, server_id=row.id))
            points = await self._points(row.id)
            item = {
                **ident,
                "latest": latest,
                "history": [
                    {"time_utc": iso(ts), "ts": ts, **dict(zip(names, vals, strict=True))}
                    for ts, vals in points
                ],
            }
            yield (b"," if i else b"") + orjson.dumps(item)
        yield b"]}\n"


def _csv_lines(rows: Iterable[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buf.getvalue().encode("utf-8")
