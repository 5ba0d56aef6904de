"""Read pool and single writer with group commit.

Every write goes through one writer thread: callers hand it a function `fn(conn)`, the writer
gathers the jobs queued within `max_delay_ms` (up to `max_batch`), runs each inside its own
SAVEPOINT (a failing job fails alone), commits once, and only then resolves the callers'
futures. So a request is answered only after its data is committed, and SQLite sees one writer.
Reads run on a connection pool in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event

log = logging.getLogger("fleetwatch.hub.store")

T = TypeVar("T")


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _resolve(job: _Job, result: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    job.loop.call_soon_threadsafe(settle)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, synchronous=NORMAL and real SAVEPOINTs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (savepoints work)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


class Database:
    """The store's one entry point: `read(fn)` on the pool, `write(fn)` through the writer."""

    def __init__(self, url: str, *, max_batch: int = 500, max_delay_ms: float = 2.0) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name  # "sqlite" | "postgresql"
        self._max_batch = max_batch
        self._max_delay = max_delay_ms / 1000.0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches_committed = 0
        self.jobs_committed = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fleetwatch-writer", daemon=True)
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        self.engine.dispose()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return await asyncio.to_thread(run)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(conn)` in the writer's next batch; returns after the batch committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, loop, future))
        return await future

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        jobs = [first]
        deadline = time.monotonic() + self._max_delay
        while len(jobs) < self._max_batch:
            timeout = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
        return jobs, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            jobs, stop = self._gather(first)
            self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with self.engine.begin() as conn:
                for job in jobs:
                    try:
                        with conn.begin_nested():
                            outcomes.append((job.fn(conn), None))
                    except Exception as exc:  # one job's failure stays its own
                        outcomes.append((None, exc))
        except Exception as exc:
            log.exception("writer: commit of %d jobs failed", len(jobs))
            for job in jobs:
                _resolve(job, None, exc)
            return
        self.batches_committed += 1
        self.jobs_committed += len(jobs)
        for job, (result, error) in zip(jobs, outcomes, strict=True):
            _resolve(job, result, error)
