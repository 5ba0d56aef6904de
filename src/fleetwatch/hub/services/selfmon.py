"""H15: the hub watches itself. Every `selfmon_interval_seconds` (a minute) each hub process
samples its own RSS, threads, open files, TCP connections, garbage-collector runs and stream
clients, plus the resident memory of its ingest workers, and keeps 24 hours of samples in
memory. A steady rise of memory (a least-squares line over the last `selfmon_trend_minutes`
that climbs at least `selfmon_rise_mib_per_hour` and fits the samples well) raises an in-app
notification ("Hub memory rising", at most once every 6 hours), and the figures are on the
dashboard's Hub page and in `/metrics`.

A leak shows as a line: RSS that rises in steps as caches fill and then stays, or that
saws up and down with the collector, fits a line poorly (`FIT_MIN` is on r squared).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, insert

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.store.tables_alerts import notifications

log = logging.getLogger("fleetwatch.hub.selfmon")
KEY = "selfmon"
KEEP_SECONDS = 24 * 3600
#: a rise whose line explains less of the samples' variance than this is not "steady"
FIT_MIN = 0.8
#: at most one warning per this many seconds
WARN_EVERY_SECONDS = 6 * 3600


@dataclass(frozen=True, slots=True)
class HubSample:
    ts: float
    rss_bytes: int
    workers_rss_bytes: int  # the ingest worker processes together
    threads: int
    open_files: int
    connections: int
    gc_collections: tuple[int, int, int]  # per generation, since the process started
    stream_clients: int


@dataclass(frozen=True, slots=True)
class Trend:
    bytes_per_hour: float
    fit: float  # r squared of the line, 0-1
    span_seconds: float
    rising: bool


def trend(samples: list[HubSample], window_seconds: float, rise_bytes_per_hour: float) -> Trend:
    """The least-squares line of RSS over the last `window_seconds`; `rising` when it covers
    most of the window, climbs at least `rise_bytes_per_hour` and fits at least `FIT_MIN`."""
    if not samples:
        return Trend(0.0, 0.0, 0.0, False)
    recent = [s for s in samples if s.ts >= samples[-1].ts - window_seconds]
    span = recent[-1].ts - recent[0].ts
    if len(recent) < 3 or span <= 0:
        return Trend(0.0, 0.0, span, False)
    n = len(recent)
    mean_t = sum(s.ts for s in recent) / n
    mean_y = sum(s.rss_bytes for s in recent) / n
    sxx = sum((s.ts - mean_t) ** 2 for s in recent)
    sxy = sum((s.ts - mean_t) * (s.rss_bytes - mean_y) for s in recent)
    syy = sum((s.rss_bytes - mean_y) ** 2 for s in recent)
    slope = sxy / sxx  # bytes per second
    fit = (sxy * sxy) / (sxx * syy) if syy > 0 else 0.0
    per_hour = slope * 3600
    rising = span >= 0.9 * window_seconds and per_hour >= rise_bytes_per_hour and fit >= FIT_MIN
    return Trend(per_hour, fit, span, rising)


class SelfMonitor:
    def __init__(self, ctx: HubContext) -> None:
        import psutil

        s = ctx.settings
        self.ctx = ctx
        self.interval = s.selfmon_interval_seconds
        self.window = s.selfmon_trend_minutes * 60
        self.rise = s.selfmon_rise_mib_per_hour * (1 << 20)
        size = int(KEEP_SECONDS / self.interval) + 1
        self.samples: collections.deque[HubSample] = collections.deque(maxlen=size)
        self.warned_at: float | None = None
        self._me = psutil.Process(os.getpid())

    def sample(self) -> HubSample:
        import psutil

        from fleetwatch.hub.stream.broker import broker_of

        me = self._me
        with me.oneshot():
            rss, threads = me.memory_info().rss, me.num_threads()
            files = me.num_fds() if hasattr(me, "num_fds") else len(me.open_files())
        try:
            connections = len(me.net_connections(kind="tcp"))
        except psutil.Error:
            connections = 0
        workers = 0
        for child in me.children():
            try:
                workers += child.memory_info().rss
            except psutil.Error:
                continue  # gone meanwhile
        runs = [g["collections"] for g in gc.get_stats()]
        return HubSample(time.time(), rss, workers, threads, files, connections,
                         (runs[0], runs[1], runs[2]), len(broker_of(self.ctx).clients))  # fmt: skip

    def trend(self) -> Trend:
        return trend(list(self.samples), self.window, self.rise)

    async def check(self, now: float | None = None) -> Trend:
        """Warn in the app when memory rises steadily (at most every `WARN_EVERY_SECONDS`)."""
        now = time.time() if now is None else now
        current = self.trend()
        recently = self.warned_at is not None and now - self.warned_at < WARN_EVERY_SECONDS
        if current.rising and not recently:
            self.warned_at = now
            mib = current.bytes_per_hour / (1 << 20)
            latest = self.samples[-1].rss_bytes / (1 << 20)
            message = (f"The hub process (pid {os.getpid()}) grew by {mib:.1f} MiB per hour "
                       f"over the last {current.span_seconds / 60:.0f} minutes, steadily "
                       f"(fit {current.fit:.2f}); it uses {latest:.0f} MiB now. See the Hub "
                       "page; a restart frees the memory.")  # fmt: skip
            log.warning("hub memory rising: %s", message)

            def job(conn: Connection) -> None:
                conn.execute(insert(notifications).values(
                    ts=now, level="WARNING", title="Hub memory rising", message=message,
                    read=False))  # fmt: skip

            await self.ctx.db.write(job)
        return current

    async def run(self) -> None:
        while True:
            try:
                self.samples.append(await asyncio.to_thread(self.sample))
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let watching the hub take the hub down
                log.exception("self-monitoring sample failed")
            await asyncio.sleep(self.interval)

    def view(self) -> dict[str, Any]:
        """What `GET /api/dashboard/hub` and the Hub page show."""
        samples = [asdict(s) for s in self.samples]
        t = self.trend()
        return {
            "pid": os.getpid(),
            "interval_seconds": self.interval,
            "current": samples[-1] if samples else None,
            "trend": {
                **asdict(t),
                "window_seconds": self.window,
                "rise_bytes_per_hour": self.rise,
            },
            "warned_at": self.warned_at,
            "samples": samples,
        }


def start(ctx: HubContext) -> asyncio.Task[None]:
    monitor = ctx.extras[KEY] = SelfMonitor(ctx)
    return asyncio.create_task(monitor.run(), name="selfmon")


def monitor_of(ctx: HubContext) -> SelfMonitor | None:
    monitor: SelfMonitor | None = ctx.extras.get(KEY)
    return monitor
