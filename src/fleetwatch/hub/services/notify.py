"""Delivery of alert events to channels (H6): asynchronous, retried, isolated per channel.

Every enabled channel has its own bounded queue and task. `submit` only filters and enqueues
(never blocks, never raises); a worker sends with a timeout and bounded retries with
exponential backoff, then records the outcome in `channel_stats` (in memory at once; written
at most once per `stats_seconds` per channel, and when the notifier closes). A slow or failing
channel fills only its own queue; when that is full, new events for it are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from fleetwatch.hub.alerts.channels.base import ChannelFilter, Sender, filter_from_row
from fleetwatch.hub.alerts.channels.registry import build_sender
from fleetwatch.hub.alerts.state import AlertEvent
from fleetwatch.hub.mail.service import MailService
from fleetwatch.hub.store.database import Database
from fleetwatch.hub.store.tables_alerts import channel_stats, channels

log = logging.getLogger("fleetwatch.hub.notify")


@dataclass
class DeliveryPolicy:
    retries: int = 3  # attempts after the first
    backoff_seconds: float = 2.0  # first retry delay; doubles each time
    timeout_seconds: float = 30.0  # per attempt, on top of the channel's own timeouts
    queue_max: int = 1000
    #: a channel's statistics are written at most this often (and when the notifier closes)
    stats_seconds: float = 1.0


@dataclass
class Stats:
    handled_total: int = 0
    errors_total: int = 0
    filtered_total: int = 0
    dropped_total: int = 0
    last_success_at: float | None = None
    last_error_at: float | None = None
    last_error: str | None = None

    def as_row(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Worker:
    channel_id: int
    name: str
    kind: str
    filter: ChannelFilter
    sender: Sender
    queue: asyncio.Queue[AlertEvent]
    stats: Stats = field(default_factory=Stats)
    task: asyncio.Task[None] | None = None
    dirty: bool = False  # stats changed since last written
    saved_at: float = 0.0  # monotonic


class Notifier:
    def __init__(
        self,
        db: Database,
        mail: MailService,
        policy: DeliveryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.mail, self.clock = db, mail, clock
        self.policy = policy or DeliveryPolicy()
        self.workers: dict[int, Worker] = {}

    async def start(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        """(Re)build the workers from the `channels` table (after any channel change)."""

        def load(conn: Connection) -> tuple[list[Any], dict[int, Any]]:
            rows = list(conn.execute(select(channels)))
            stats = {r.channel_id: r for r in conn.execute(select(channel_stats))}
            return rows, stats

        rows, stats = await self.db.read(load)
        await self.close()
        for row in rows:
            m = row._mapping
            try:
                sender = build_sender(m["kind"], m["config"], self.db, self.mail)
                flt = filter_from_row(m)
            except ValueError:
                log.exception("channel %s (%s) has an invalid stored config", m["id"], m["name"])
                continue
            worker = Worker(m["id"], m["name"], m["kind"], flt, sender,
                            asyncio.Queue(maxsize=self.policy.queue_max))  # fmt: skip
            saved = stats.get(m["id"])
            if saved is not None:
                worker.stats = Stats(**{k: saved._mapping[k] for k in Stats().as_row()})
            if flt.enabled:
                worker.task = asyncio.create_task(self._run(worker), name=f"channel-{m['id']}")
            self.workers[m["id"]] = worker

    async def close(self) -> None:
        workers, self.workers = self.workers, {}
        for w in workers.values():
            if w.task is not None:
                w.task.cancel()
        for w in workers.values():
            if w.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await w.task
            if w.dirty:
                await self._save_stats(w)
            await w.sender.aclose()

    def submit(self, events: list[AlertEvent]) -> None:
        now = self.clock()
        for event in events:
            if not event.notify:
                continue
            for w in self.workers.values():
                if w.task is None:
                    continue
                if not w.filter.accepts(event, now):
                    w.stats.filtered_total += 1
                    continue
                try:
                    w.queue.put_nowait(event)
                except asyncio.QueueFull:
                    w.stats.dropped_total += 1

    async def _run(self, w: Worker) -> None:
        while True:
            wait = self.policy.stats_seconds - (time.monotonic() - w.saved_at)
            try:
                async with asyncio.timeout(max(wait, 0.0) if w.dirty else None):
                    event = await w.queue.get()
            except TimeoutError:  # quiet for a while: write what changed
                await self._save_stats(w)
                continue
            try:
                await self._deliver(w, event)
            except Exception:  # a worker survives anything a sender does
                log.exception("channel %s: unexpected delivery failure", w.name)
            w.dirty = True
            if time.monotonic() - w.saved_at >= self.policy.stats_seconds:
                await self._save_stats(w)  # busy: at most once per `stats_seconds`

    async def _deliver(self, w: Worker, event: AlertEvent) -> None:
        delay = self.policy.backoff_seconds
        for attempt in range(self.policy.retries + 1):
            error = await self._attempt(w, event)
            if error is None:
                w.stats.handled_total += 1
                w.stats.last_success_at = self.clock()
                return
            w.stats.errors_total += 1
            w.stats.last_error, w.stats.last_error_at = error, self.clock()
            log.warning("channel %s attempt %d failed: %s", w.name, attempt + 1, error)
            if attempt < self.policy.retries:
                await asyncio.sleep(delay)
                delay *= 2
        w.stats.dropped_total += 1

    async def _attempt(self, w: Worker, event: AlertEvent) -> str | None:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # that arrives as the send completes, and `close()` then waits for ever.
            async with asyncio.timeout(self.policy.timeout_seconds):
                await w.sender.send(event)
        except TimeoutError:
            return f"timed out after {self.policy.timeout_seconds:g} s"
        except Exception as exc:  # any sender failure is that channel's error, recorded
            return f"{type(exc).__name__}: {exc}"[:1000]
        return None

    async def _save_stats(self, w: Worker) -> None:
        row = w.stats.as_row()
        w.dirty, w.saved_at = False, time.monotonic()

        def save(conn: Connection) -> None:
            upd = channel_stats.update().where(channel_stats.c.channel_id == w.channel_id)
            if not conn.execute(upd.values(**row)).rowcount:
                conn.execute(channel_stats.insert().values(channel_id=w.channel_id, **row))

        try:
            await self.db.write(save)
        except Exception:
            log.exception("channel %s: could not save statistics", w.name)

    async def test(self, channel_id: int, event: AlertEvent) -> str | None:
        """Send `event` now on one channel, bypassing filters; the error text or None."""
        w = self.workers.get(channel_id)
        if w is None:
            return "channel not loaded"
        error = await self._attempt(w, event)
        if error is None:
            w.stats.handled_total += 1
            w.stats.last_success_at = self.clock()
        else:
            w.stats.errors_total += 1
            w.stats.last_error, w.stats.last_error_at = error, self.clock()
        await self._save_stats(w)
        return error

    def stats(self, channel_id: int) -> dict[str, Any] | None:
        w = self.workers.get(channel_id)
        return None if w is None else {**w.stats.as_row(), "queued": w.queue.qsize()}
