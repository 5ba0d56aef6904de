"""`RemoteWriter`: the store -> bounded queue -> TSDB loop (see the package docstring)."""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from sqlalchemy import Connection, delete, func, insert, select

from fleetwatch import __version__
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.remote_write import HOT_SERIES, RemoteWriteConfig
from fleetwatch.hub.remote_write import protobuf as pb
from fleetwatch.hub.store import tables

log = logging.getLogger("fleetwatch.hub.remote_write")
#: the `settings` row that keeps the last row id sent, and for which URL
CURSOR_KEY = "remote_write.cursor"
#: ctx.extras key: the leader's `RemoteWriter` (its queue for `/metrics`)
REMOTE_WRITER_KEY = "remote_write.writer"
_s, _v = tables.snapshots.c, tables.servers.c
_HOT = tuple(HOT_SERIES)
_SCALES = tuple(scale for _name, scale in HOT_SERIES.values())
_ROWS = (
    select(
        _s.id, _s.ts, _v.id.label("server_id"), _v.hostname, _v.group_name, *(_s[c] for c in _HOT)
    )
    .join(tables.servers, _v.id == _s.server_id)
    .order_by(_s.id)
)
_MAX_ID = select(func.max(_s.id))
#: batches one `fill` reads at most (then it sends, and reads on)
MAX_FILL = 64
#: rows encoded between two turns of the event loop (~1 ms)
ENCODE_SLICE = 100


@dataclass(frozen=True, slots=True)
class Batch:
    body: bytes  # snappy-compressed WriteRequest
    samples: int
    last_id: int  # every row up to this id is in this batch or an earlier one
    caught_up: bool = True  # no more rows committed after it (as of the read)


@dataclass(frozen=True, slots=True)
class Fetched:
    rows: Sequence[Any]  # (id, ts, server_id, hostname, group, *hot values)
    last_id: int
    caught_up: bool


@dataclass
class Queue:
    limit: int
    batches: collections.deque[Batch] = field(default_factory=collections.deque)
    size: int = 0

    def push(self, batch: Batch) -> list[Batch]:
        """Add `batch`; returns the oldest batches dropped to keep within `limit` bytes."""
        self.batches.append(batch)
        self.size += len(batch.body)
        dropped = []
        while self.size > self.limit and len(self.batches) > 1:
            old = self.batches.popleft()
            self.size -= len(old.body)
            dropped.append(old)
        return dropped

    def pop(self) -> Batch:
        batch = self.batches.popleft()
        self.size -= len(batch.body)
        return batch


class RemoteWriter:
    def __init__(self, ctx: HubContext, config: RemoteWriteConfig) -> None:
        self.ctx, self.config = ctx, config
        self.queue = Queue(config.queue_bytes)
        self.after = 0  # rows up to this id are queued (or were sent, or dropped)
        self.sent_through = 0  # rows up to this id reached the TSDB (or were dropped)
        self.stored_cursor = -1
        self.backoff = 0.0
        self._heads: dict[tuple[str, str, str | None, int], list[bytes]] = {}
        self._top_before: int | None = None  # PostgreSQL: the newest id one poll ago

    # -- the store side ----------------------------------------------------------------------

    def _start(self, conn: Connection) -> int:
        """The last row sent to this URL; for a new URL the newest row, kept at once (so a
        restart during an outage still sends what came after it)."""
        row = conn.execute(
            select(tables.settings.c.value).where(tables.settings.c.key == CURSOR_KEY)
        ).first()
        stored: Any = orjson.loads(row.value) if row else None
        if isinstance(stored, dict) and stored.get("url") == self.config.url:
            return int(stored.get("after") or 0)
        after = int(conn.execute(_MAX_ID).scalar() or 0)
        self._store_cursor(conn, after)
        return after

    def _store_cursor(self, conn: Connection, after: int) -> None:
        value = orjson.dumps({"url": self.config.url, "after": after}).decode()
        conn.execute(delete(tables.settings).where(tables.settings.c.key == CURSOR_KEY))
        conn.execute(insert(tables.settings).values(key=CURSOR_KEY, value=value))

    def _read(self, conn: Connection, *, after: int, rows: int) -> Fetched | None:
        """(Reader thread) up to `rows` rows after `after`, None when there are none.

        Only the fetch runs in the thread; encoding is Python work, done on the event loop in
        slices (`_encode`), because a thread busy in Python holds the GIL for up to 5 ms at a
        time, which would stall the hub's loop (its commits) every batch.

        On PostgreSQL an id is handed out before its transaction commits, so a lower id can
        become visible after a higher one: only ids that were already the newest one poll ago
        are read, which gives every ingest transaction a poll interval to commit."""
        top = int(conn.execute(_MAX_ID).scalar() or 0)
        if self.ctx.db.dialect != "sqlite":
            top, self._top_before = (self._top_before or after), top
        if top <= after:
            return None
        found = conn.execute(_ROWS.where(_s.id > after, _s.id <= top).limit(rows)).all()
        if len(found) < rows:  # every row up to `top` was read (ids of deleted servers: none)
            return Fetched(found, top, caught_up=True)
        return Fetched(found, found[-1].id, caught_up=False)

    async def _encode(self, fetched: Fetched) -> Batch:
        parts: list[bytes] = []
        heads = self._heads
        series, scales, timestamp = pb.series, _SCALES, pb.timestamp
        rows = fetched.rows
        for start in range(0, len(rows), ENCODE_SLICE):
            if start:
                await asyncio.sleep(0)  # let the loop serve between slices
            for row in rows[start : start + ENCODE_SLICE]:
                stamp = timestamp(int(row[1] * 1000))
                key = (row[2], row[3], row[4], len(stamp))
                per_metric = heads.get(key) or self._series_heads(key)
                for i, value in enumerate(row[5:]):
                    if value is not None:
                        parts.append(series(per_metric[i], value * scales[i], stamp))
        body = pb.compress(b"".join(parts)) if parts else b""
        return Batch(body, len(parts), fetched.last_id, fetched.caught_up)

    def _series_heads(self, key: tuple[str, str, str | None, int]) -> list[bytes]:
        """Per hot metric, the encoded start of a series of this server (`pb.series_head`)."""
        if len(self._heads) > 100_000:
            self._heads.clear()  # hostnames changed a lot: start over
        server_id, hostname, group, stamp_size = key
        stamp = b"\x00" * stamp_size  # only its length matters
        heads = []
        for column in _HOT:
            pairs = {"__name__": HOT_SERIES[column][0], "server_id": server_id,
                     "hostname": hostname, "group": group or ""}  # fmt: skip
            heads.append(pb.series_head(pb.labels(pairs), stamp))
        self._heads[key] = heads
        return heads

    async def fill(self) -> bool:
        """Queue the rows committed since the last call (at most `MAX_FILL` batches), also
        while the TSDB is away: a full queue then drops its oldest batches, counted. Returns
        True when more rows wait."""
        rows = max(1, self.config.batch_samples // len(_HOT))
        for _ in range(MAX_FILL):
            fetched = await self.ctx.db.read(
                functools.partial(self._read, after=self.after, rows=rows)
            )
            if fetched is None:
                break
            batch = await self._encode(fetched)
            self.after = batch.last_id
            if batch.samples:
                for old in self.queue.push(batch):
                    self.ctx.telemetry.count("remote_write", "dropped", old.samples)
                    self.sent_through = max(self.sent_through, old.last_id)
                    log.warning("remote-write queue full: dropped %d samples", old.samples)
            elif not self.queue.batches:  # nothing waits before these rows: they count as sent
                self.sent_through = batch.last_id
            if batch.caught_up:
                return False
        return True

    # -- the TSDB side -----------------------------------------------------------------------

    async def drain(self, http: httpx.AsyncClient) -> int | None:
        """Send queued batches in order until the queue is empty (returns the samples sent)
        or a send fails (returns None; `backoff` says how long to wait)."""
        sent: int | None = 0
        count = self.ctx.telemetry.count
        while self.queue.batches:
            batch = self.queue.batches[0]
            outcome = await self._send(http, batch)
            if outcome == "retry":
                count("remote_write", "retried", batch.samples)
                self.backoff = min(self.config.max_backoff_seconds, max(0.5, self.backoff * 2))
                sent = None
                break
            self.backoff = 0.0
            self.queue.pop()
            count("remote_write", outcome, batch.samples)
            self.sent_through = batch.last_id
            sent = (sent or 0) + batch.samples
        if self.sent_through != self.stored_cursor:
            through = self.sent_through
            await self.ctx.db.write(lambda conn: self._store_cursor(conn, through))
            self.stored_cursor = through
        return sent

    async def _send(self, http: httpx.AsyncClient, batch: Batch) -> str:
        """`sent`, `rejected` (a 4xx other than 429: retrying cannot help) or `retry`."""
        try:
            response = await http.post(self.config.url, content=batch.body)
        except httpx.HTTPError as exc:
            log.warning("remote-write to %s failed: %s", self.config.url, exc)
            return "retry"
        status = response.status_code
        if status < 300:
            return "sent"
        if status == 429 or status >= 500:
            log.warning("remote-write to %s: HTTP %d, retrying", self.config.url, status)
            return "retry"
        log.error("remote-write to %s refused a batch: HTTP %d %s", self.config.url, status,
                  response.text[:200])  # fmt: skip
        return "rejected"

    def client(self) -> httpx.AsyncClient:
        c = self.config
        headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                   "X-Prometheus-Remote-Write-Version": "0.1.0",
                   "User-Agent": f"fleetwatch-hub/{__version__}"}  # fmt: skip
        if c.bearer_token:
            headers["Authorization"] = f"Bearer {c.bearer_token}"
        auth = httpx.BasicAuth(c.username, c.password) if c.username else None
        return httpx.AsyncClient(headers=headers, auth=auth, timeout=c.timeout_seconds)

    async def run(self) -> None:
        """Until cancelled, once a poll: queue the rows committed since, send them. A sender
        that is behind (more than `MAX_FILL` batches waited) goes on at once; after a failed
        send it waits `backoff`."""
        self.after = self.sent_through = self.stored_cursor = await self.ctx.db.write(self._start)
        async with self.client() as http:
            while True:
                started = time.monotonic()
                try:
                    behind = await self.fill()
                    sent = await self.drain(http)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database hiccup: try again next poll
                    log.exception("remote-write loop failed")
                    behind, sent = False, 0
                if sent is None:
                    await asyncio.sleep(self.backoff)
                elif not behind:
                    idle = self.config.poll_seconds - (time.monotonic() - started)
                    await asyncio.sleep(max(0.0, idle))
