"""Read pool and single writer with group commit.

Every write goes through one writer thread: callers hand it work, the writer gathers what is
queued within `max_delay_ms` (up to `max_batch` jobs), runs it in one transaction, commits once,
and only then resolves the callers' futures. So a request is answered only after its data is
committed, and SQLite sees one writer per process.

Two kinds of job:
- `write(fn)`: `fn(conn)` runs inside its own SAVEPOINT, so a failing job fails alone.
- `write_batched(batch_fn, item)`: items queued for the same `batch_fn` are merged into one call
  `batch_fn(conn, items) -> results` (one `executemany` instead of one statement per item).
  A bad item still fails alone and the others are stored: a batch runs without a SAVEPOINT
  (they are costly, see `_run_jobs`), and if it raises, the transaction is rolled back and run
  again with each batch, then each item of a failed one, in its own SAVEPOINT. So every job
  must be repeatable: it changes the database only, nothing outside it.

On SQLite a thread of its own checkpoints the WAL (`checkpoint.py`), never the writer.

Reads run on a connection pool in the database's own reader threads. A read whose caller is
cancelled before it started never runs; one already running finishes and returns its
connection; `close()` waits for running reads before it disposes of the pool, so no
connection outlives the database (a late check-in to a disposed pool would leak it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection

from fleetwatch.hub.store import codec, references
from fleetwatch.hub.store.checkpoint import Checkpointer
from fleetwatch.hub.store.engine import make_engine
from fleetwatch.hub.store.writelock import WriterLock

log = logging.getLogger("fleetwatch.hub.store")

T = TypeVar("T")
#: `batch_fn(conn, items) -> results`, one result per item, in order.
BatchFn = Callable[[Connection, list[Any]], list[Any]]
_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]
#: reader threads per database (SQLite's default pool holds 5 + 10 overflow, PostgreSQL's 8 + 8)
READ_THREADS = 8


@dataclass
class _Job:
    fn: Callable[[Connection], Any] | None
    batch_fn: BatchFn | None
    item: Any
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _settle(outcomes: list[_Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class Database:
    """The store's one entry point: `read(fn)` on the pool, `write(fn)` through the writer."""

    def __init__(
        self, url: str, *, max_batch: int = 500, max_delay_ms: float = 2.0, checkpoints: bool = True
    ) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name  # "sqlite" | "postgresql"
        self._max_batch = max_batch
        self._max_delay = max_delay_ms / 1000.0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches_committed = 0
        self.jobs_committed = 0
        self._closed = False
        self._readers = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="fleetwatch-read")
        path = self.engine.url.database if self.dialect == "sqlite" else None
        self._sqlite_path = path if path and path != ":memory:" else None
        self._write_lock = WriterLock(self._sqlite_path)
        # an ingest worker leaves checkpoints to the hub process
        path = self._sqlite_path if checkpoints else None
        self._checkpointer = Checkpointer(path) if path is not None else None
        # `codec.unpack` finds this database's compression references through it
        self._references = references.source_for(self.engine)

    def queued(self) -> int:
        """Writes waiting for the writer thread (approximate, for `/metrics`)."""
        return self._queue.qsize()

    def start(self) -> None:
        codec.register_source(self._references)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fleetwatch-writer", daemon=True)
            self._thread.start()
        if self._checkpointer is not None:
            self._checkpointer.start()

    def close(self) -> None:
        """Commit what is queued, stop the writer, wait for reads, close every connection."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=60)
            if self._thread.is_alive():
                log.error("writer: still busy after 60 s; its connection is abandoned")
            self._thread = None
        if self._checkpointer is not None:
            self._checkpointer.stop()
        # reads not started yet were cancelled with their callers or still run now
        self._readers.shutdown(wait=True)
        codec.unregister_source(self._references)
        self._write_lock.close()
        self.engine.dispose()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """`fn(conn)` on a pooled connection in a reader thread."""
        if self._closed:
            raise RuntimeError("the database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._read, fn)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(conn)` in the writer's next batch; returns after the batch committed."""
        result: T = await self._submit(fn, None, None)
        return result

    async def write_batched(self, batch_fn: BatchFn, item: Any) -> Any:
        """Add `item` to the next `batch_fn(conn, items)` call; its result, once committed."""
        return await self._submit(None, batch_fn, item)

    def enqueue(self, batch_fn: BatchFn, item: Any) -> asyncio.Future[Any]:
        """`write_batched` for callers collecting many results: the future of `item`'s result
        (resolved on the running loop once committed)."""
        return self._enqueue(None, batch_fn, item)

    async def _submit(
        self, fn: Callable[[Connection], Any] | None, batch_fn: BatchFn | None, item: Any
    ) -> Any:
        return await self._enqueue(fn, batch_fn, item)

    def _enqueue(
        self, fn: Callable[[Connection], Any] | None, batch_fn: BatchFn | None, item: Any
    ) -> asyncio.Future[Any]:
        if self._thread is None:
            raise RuntimeError("the database writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(fn, batch_fn, item, loop, future))
        return future

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """`first` and what else is queued. A backlog (jobs that queued up while the last batch
        committed) goes at once: waiting `max_delay` for more would only idle the writer, which
        is the one serial step of ingest. A lone job waits up to `max_delay` for company."""
        jobs = [first]
        while len(jobs) < self._max_batch:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
        if len(jobs) > 1:
            return jobs, False
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
        conn: Connection | None = None
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            jobs, stop = self._gather(first)
            try:
                if conn is None or conn.invalidated:
                    conn = self._writer_connection()
                self._commit(conn, jobs)
            except Exception as exc:
                log.exception("writer: commit of %d jobs failed", len(jobs))
                self._resolve([(job.future, None, exc) for job in jobs], jobs)
                if conn is not None:
                    conn.close()
                    conn = None
        if conn is not None:
            conn.close()

    def _writer_connection(self) -> Connection:
        conn = self.engine.connect().execution_options(fleetwatch_writer=True)
        if self._sqlite_path is not None:  # the checkpointer thread does it (see above)
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            conn.commit()
        return conn

    def _commit(self, conn: Connection, jobs: list[_Job]) -> None:
        with self._write_lock:
            try:  # the usual case: nothing fails, no SAVEPOINT needed (see `_run_jobs`)
                with conn.begin():
                    outcomes = self._run_jobs(conn, jobs, guarded=False)
            except Exception as exc:
                log.debug(
                    "writer: a batch of %d jobs failed (%s); again, each guarded", len(jobs), exc
                )
                with conn.begin():
                    outcomes = self._run_jobs(conn, jobs, guarded=True)
        self.batches_committed += 1
        self.jobs_committed += len(jobs)
        self._resolve([outcomes[id(job)] for job in jobs], jobs)

    def _run_jobs(self, conn: Connection, jobs: list[_Job], guarded: bool) -> dict[int, _Outcome]:
        """Every job, batched ones merged per `batch_fn`. A `write(fn)` job always runs in
        its own SAVEPOINT (some fail by design: a 404 raised inside the job). A batch runs
        plainly unless `guarded`: the ingest batches never fail but for a broken database,
        and a SAVEPOINT over one copies every page it changes into SQLite's statement journal,
        which cost the writer a quarter of its time per snapshot. So a failing batch escapes,
        the caller rolls the whole transaction back and runs it again guarded."""
        outcomes: dict[int, _Outcome] = {}
        done_groups: set[BatchFn] = set()
        for job in jobs:
            if job.batch_fn is None:
                outcomes[id(job)] = self._run_one(conn, job)
            elif job.batch_fn not in done_groups:
                done_groups.add(job.batch_fn)
                group = [j for j in jobs if j.batch_fn == job.batch_fn]
                if guarded:
                    results = self._run_group(conn, group)
                else:
                    values = job.batch_fn(conn, [member.item for member in group])
                    results = [(m.future, v, None) for m, v in zip(group, values, strict=True)]
                for member, outcome in zip(group, results, strict=True):
                    outcomes[id(member)] = outcome
        return outcomes

    @staticmethod
    def _run_one(conn: Connection, job: _Job) -> _Outcome:
        try:
            with conn.begin_nested():
                if job.fn is not None:
                    return job.future, job.fn(conn), None
                assert job.batch_fn is not None
                return job.future, job.batch_fn(conn, [job.item])[0], None
        except Exception as exc:  # one job's failure stays its own
            return job.future, None, exc

    def _run_group(self, conn: Connection, group: list[_Job]) -> list[_Outcome]:
        batch_fn = group[0].batch_fn
        assert batch_fn is not None
        try:
            with conn.begin_nested():
                results = batch_fn(conn, [job.item for job in group])
            return [(job.future, result, None) for job, result in zip(group, results, strict=True)]
        except Exception:
            if len(group) == 1:
                return [self._run_one(conn, group[0])]
            log.debug("writer: batch of %d failed; retrying one by one", len(group))
            return [self._run_one(conn, job) for job in group]

    @staticmethod
    def _resolve(outcomes: list[_Outcome], jobs: list[_Job]) -> None:
        """Hand the outcomes back: one wake-up per event loop, not one per job."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for job, outcome in zip(jobs, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append(outcome)
        for loop, items in by_loop.items():
            # a closed loop raises RuntimeError: nobody is waiting there any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, items)
