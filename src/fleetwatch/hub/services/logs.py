"""The log store (issue 22, H17): lines shipped by agents, stored once, searched newest first.

`store_batch` keeps a batch of one server's lines in one transaction with its batch id, so a
batch an agent resends (it did not see the hub's 200) is recognised and ignored: every line
is stored exactly once. Messages longer than `MAX_MESSAGE` characters are cut and marked.
`search` filters by server, app, minimum level, time and full text (`logsearch.py`), newest
first, paged by id (`before`). `prune` keeps `logs_retention_days` and at most
`logs_max_bytes` of messages (the oldest lines go first).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import Connection, column, delete, func, select, table, text
from sqlalchemy.dialects import postgresql, sqlite

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import logsearch
from fleetwatch.hub.store.tables import servers
from fleetwatch.hub.store.tables_logs import APP_LENGTH, SOURCE_LENGTH, log_batches, log_lines

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
LEVEL_NAMES = {number: name for name, number in LEVELS.items()}
MAX_MESSAGE = 16_384
MAX_LIMIT = 1000
BATCHES_KEEP_SECONDS = 7 * 86400.0
_fts = table("log_fts", column("rowid"), column("log_fts"))
_COLUMNS = "log_lines (server_id, ts, received_at, app, source, level, message)"
_INSERT_SQLITE = f"INSERT INTO {_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)"
_INSERT_PG = f"INSERT INTO {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s)"
_FTS_FILL = text(
    "INSERT INTO log_fts(rowid, message) SELECT id, message FROM log_lines WHERE id > :after"
)


Level = Literal["debug", "info", "warning", "error", "critical"]


class Line(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One shipped line, as `POST /api/logs` carries it (decoded straight into this)."""

    ts: Annotated[float, msgspec.Meta(ge=0, lt=1e11)]  # epoch seconds
    app: Annotated[str, msgspec.Meta(min_length=1, max_length=APP_LENGTH)]
    source: Annotated[str, msgspec.Meta(max_length=SOURCE_LENGTH)]
    level: Level
    message: str


def cut(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    return message[:MAX_MESSAGE] + f" …[cut {len(message) - MAX_MESSAGE} characters]"


def _claim(conn: Connection, server_id: str, batch_id: str, lines: int, now: float) -> bool:
    """Record the batch id; False when this server's batch was stored before."""
    values = {"server_id": server_id, "batch_id": batch_id, "received_at": now, "lines": lines}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(log_batches).values(values).on_conflict_do_nothing()
    return conn.execute(statement.returning(log_batches.c.lines)).first() is not None


def store_batch(
    conn: Connection, server_id: str, batch_id: str, lines: Sequence[Line], now: float
) -> int:
    """(Writer) store one batch; the number of lines stored (0 for a batch seen before)."""
    if not _claim(conn, server_id, batch_id, len(lines), now):
        return 0
    if lines:
        rows = [
            (server_id, ln.ts, now, ln.app, ln.source, LEVELS[ln.level], cut(ln.message))
            for ln in lines
        ]
        on_sqlite = conn.dialect.name == "sqlite"
        before = latest_id(conn) if on_sqlite else 0
        # the driver's executemany with plain tuples: a third of Core's cost per line
        conn.exec_driver_sql(_INSERT_SQLITE if on_sqlite else _INSERT_PG, rows)
        if on_sqlite:  # the batch's lines into the FTS5 index in one statement
            conn.execute(_FTS_FILL, {"after": before})
    return len(lines)


@dataclass(frozen=True)
class LogQuery:
    server_id: str | None = None
    app: str | None = None
    level: str | None = None  # this level and above
    q: str | None = None
    since: float | None = None
    until: float | None = None
    before: int | None = None  # ids below this (the next page)
    after: int | None = None  # ids above this (what a live tail has not seen)
    limit: int = 100


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "server_id": r.server_id,
        "hostname": r.hostname,
        "ts": r.ts,
        "app": r.app,
        "source": r.source,
        "level": LEVEL_NAMES.get(r.level, str(r.level)),
        "message": r.message,
    }


def search_rows(conn: Connection, query: LogQuery) -> list[dict[str, Any]]:
    """(Reader) the lines `query` asks for, newest first (at most `limit` + 1)."""
    c = log_lines.c
    id_col: Any = c.id
    joined: Any = log_lines.outerjoin(servers, servers.c.id == c.server_id)
    conditions: list[Any] = []
    if query.q:
        terms = logsearch.parse(query.q)
        if conn.dialect.name == "postgresql":
            conditions.append(logsearch.pg_match(terms))
        else:  # drive from the FTS table: it yields matches newest first without sorting
            joined = _fts.join(joined, c.id == _fts.c.rowid)
            id_col = _fts.c.rowid
            conditions.append(_fts.c.log_fts.op("MATCH")(logsearch.fts5_match(terms)))
    if query.server_id:
        conditions.append(c.server_id == query.server_id)
    if query.app:
        conditions.append(c.app == query.app)
    if query.level:
        conditions.append(c.level >= LEVELS[query.level])
    if query.since is not None:
        conditions.append(c.ts >= query.since)
    if query.until is not None:
        conditions.append(c.ts <= query.until)
    if query.before is not None:
        conditions.append(id_col < query.before)
    if query.after is not None:
        conditions.append(id_col > query.after)
    statement = (
        select(c.id, c.server_id, servers.c.hostname, c.ts, c.app, c.source, c.level, c.message)
        .select_from(joined)
        .where(*conditions)
        .order_by(id_col.desc())
        .limit(query.limit + 1)
    )
    return [_row(r) for r in conn.execute(statement)]


async def search(ctx: HubContext, query: LogQuery) -> dict[str, Any]:
    rows = await ctx.db.read(lambda conn: search_rows(conn, query))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return {"logs": rows, "next_before": rows[-1]["id"] if more and rows else None}


async def apps(ctx: HubContext, server_id: str | None = None) -> list[str]:
    """The app names stored (for one server), for the viewer's filter."""

    def q(conn: Connection) -> list[str]:
        statement = select(log_lines.c.app).distinct().order_by(log_lines.c.app).limit(500)
        if server_id:
            statement = statement.where(log_lines.c.server_id == server_id)
        return [r[0] for r in conn.execute(statement)]

    return await ctx.db.read(q)


def tail_rows(conn: Connection, after: int, limit: int = 1000) -> list[dict[str, Any]]:
    """(Reader) the lines stored after id `after`, oldest first (a live tail's next step)."""
    c = log_lines.c
    statement = (
        select(c.id, c.server_id, servers.c.hostname, c.ts, c.app, c.source, c.level, c.message)
        .select_from(log_lines.outerjoin(servers, servers.c.id == c.server_id))
        .where(c.id > after)
        .order_by(c.id)
        .limit(limit)
    )
    return [_row(r) for r in conn.execute(statement)]


def latest_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(log_lines.c.id))).scalar() or 0)


def _message_bytes(conn: Connection) -> int:
    c = log_lines.c
    return int(
        conn.execute(select(func.coalesce(func.sum(func.length(c.message)), 0))).scalar_one()
    )


def prune(conn: Connection, keep_days: int, max_bytes: int, now: float | None = None) -> int:
    """(Writer) drop lines older than `keep_days`, then the oldest until the messages take at
    most `max_bytes`; batch ids after a week. The number of lines dropped."""
    now = time.time() if now is None else now
    c = log_lines.c
    dropped = conn.execute(delete(log_lines).where(c.ts < now - keep_days * 86400.0)).rowcount
    total = _message_bytes(conn)
    while total > max_bytes:
        oldest = select(c.id, func.length(c.message).label("n")).order_by(c.id).limit(10_000)
        chunk = conn.execute(oldest).all()
        if not chunk:
            break
        excess, last = total - max_bytes, chunk[-1].id
        for r in chunk:
            excess -= r.n
            if excess <= 0:
                last = r.id
                break
        freed = conn.execute(delete(log_lines).where(c.id <= last))
        dropped += freed.rowcount
        total = _message_bytes(conn)
    conn.execute(delete(log_batches).where(log_batches.c.received_at < now - BATCHES_KEEP_SECONDS))
    return int(dropped)
