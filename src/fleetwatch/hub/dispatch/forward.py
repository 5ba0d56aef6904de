"""Worker -> hub: ingest writes committed by the hub process's one writer.

Each ingest worker used to commit its agents' snapshots itself. Two processes writing one
SQLite file take turns on its write lock, each with half-size batches, and each worker's writer
thread fought its busy event loop for the GIL: measured, its writer spent 2.7x the CPU per
snapshot of the same writer running alone. So a worker prepares everything CPU-bound (parsing,
validation, compression: `ingest.service.prepare_snapshots`) and sends the write itself to the
hub process over its channel; the hub's writer, whose event loop is mostly idle, merges the
writes of every worker into one batch and commits it, then answers. The worker answers its
agent only after that answer, so "answered only after commit" holds across processes. Measured
against per-worker writers (docs/architecture.md): the same throughput, p99 ~9 ms lower.

Messages: `COUNTS` + pickle of a `telemetry.Delta` (worker -> hub, every second), `STORE` +
pickle of `[(request_id, kind, item, readings), ...]` (worker -> hub) and
`REPLY` + pickle of `[(request_id, ok, result or exception), ...]` (hub -> worker); `kind` names
one of `ingest.commit.STORE_FUNCTIONS`; `readings` (snapshots only) are the alert readings of
each snapshot, which the hub publishes once they are committed (`relay.py`). Pickle is safe
here: both ends are our own processes, and nothing a client sent is unpickled (the items are
built by the worker after validation).

The hub's side (`StoreServer`) is `store_server.py`. When the hub is gone (its channel
closed), requests still waiting get 503 (their agents retry; snapshot ids make the retry
idempotent) and later ones are written by the worker's own writer. A request too large for one
message is written by the worker's own writer too.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import pickle
import socket
from collections.abc import Sequence
from typing import Any

from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.dispatch.relay import Readings, Wanted
from fleetwatch.hub.events import SnapshotView
from fleetwatch.hub.ingest.commit import STORE_FUNCTIONS
from fleetwatch.hub.store.database import Database

log = logging.getLogger("fleetwatch.hub.dispatch")

STORE = b"S"
REPLY = b"R"
#: worker -> hub, about once a second: pickle of what its `Telemetry` counted since (`telemetry.py`)
COUNTS = b"C"
#: the largest message either side sends (below the channel's socket buffer)
MAX_FORWARD = 128 * 1024
#: how soon a message the channel could not take is sent again
RETRY_SECONDS = 0.002
#: a write the hub has not answered after this long gets 503 (checked every `SWEEP_SECONDS`)
ANSWER_TIMEOUT_SECONDS = 60.0
SWEEP_SECONDS = 5.0
#: send errors that mean the hub's end is closed
HUB_GONE = frozenset({errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.EBADF})

Request = tuple[int, str, Any, list[Readings | None] | None]
Answer = tuple[int, bool, Any]


def dump(obj: object) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


class Forwarder:
    """Worker side: `await forwarder(kind, item)` -> the result of `STORE_FUNCTIONS[kind]` for
    `item`, committed by the hub. Requests made in one event-loop turn go in one message."""

    def __init__(self, channel: socket.socket, db: Database, wanted: Wanted) -> None:
        self._channel = channel
        self._db = db
        self._wanted = wanted
        self._ids = itertools.count()
        self._waiting: dict[int, tuple[asyncio.Future[Any], float]] = {}  # id -> (future, since)
        self._outbox: list[Request] = []
        self._flushing = False
        self._sweeping = False
        self.closed = False
        self.forwarded = 0

    async def __call__(
        self, kind: str, item: Any, snapshots: Sequence[SnapshotView] | None = None
    ) -> Any:
        if self.closed:
            return await self._db.write_batched(STORE_FUNCTIONS[kind], item)
        readings = self._wanted.read(item.server_id, snapshots) if snapshots else None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        request_id = next(self._ids)
        self._waiting[request_id] = (future, loop.time())
        self._outbox.append((request_id, kind, item, readings))
        if not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush)
        if not self._sweeping:
            self._sweeping = True
            loop.call_later(SWEEP_SECONDS, self._sweep)
        return await future

    def _flush(self) -> None:
        self._flushing = False
        requests, self._outbox = self._outbox, []
        if requests and not self.closed:
            self._send(requests)

    def _send(self, requests: list[Request]) -> None:
        message = STORE + dump(requests)
        if len(message) > MAX_FORWARD:
            if len(requests) > 1:
                half = len(requests) // 2
                self._send(requests[:half])
                self._send(requests[half:])
            else:  # one huge batch: this worker writes it itself
                self._write_here(requests[0])
            return
        self._transmit(message, len(requests))

    def _transmit(self, message: bytes, count: int) -> None:
        if self.closed:
            return
        try:
            self._channel.send(message)
        except OSError as exc:
            if exc.errno in HUB_GONE:
                self.close(exc)
            else:  # full (the hub is busy reading), or short of buffers: again shortly
                loop = asyncio.get_running_loop()
                loop.call_later(RETRY_SECONDS, self._transmit, message, count)
            return
        self.forwarded += count

    def _write_here(self, request: Request) -> None:
        request_id, kind, item, _ = request
        future, _since = self._waiting.pop(request_id)
        task = asyncio.ensure_future(self._db.write_batched(STORE_FUNCTIONS[kind], item))
        task.add_done_callback(lambda done: _chain(done, future))

    def on_reply(self, message: bytes) -> None:
        """A `REPLY` message from the hub: resolve the requests it answers."""
        try:
            answers: list[Answer] = pickle.loads(message[len(REPLY) :])
        except Exception:  # never expected; the sweep answers those requests 503
            log.exception("forward: an unreadable answer of %d bytes", len(message))
            return
        for request_id, ok, value in answers:
            future = self._waiting.pop(request_id, (None, 0.0))[0]
            if future is None or future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _sweep(self) -> None:
        """Answer 503 to requests the hub left unanswered for `ANSWER_TIMEOUT_SECONDS` (a
        lost answer must not hold an agent's request forever)."""
        self._sweeping = False
        if not self._waiting:
            return
        loop = asyncio.get_running_loop()
        expired = loop.time() - ANSWER_TIMEOUT_SECONDS
        for request_id in [i for i, (_f, since) in self._waiting.items() if since < expired]:
            future = self._waiting.pop(request_id)[0]
            if not future.done():
                log.warning("forward: request %d unanswered by the hub; 503", request_id)
                future.set_exception(unavailable("the hub did not answer in time"))
        self._sweeping = True
        loop.call_later(SWEEP_SECONDS, self._sweep)

    def close(self, reason: BaseException | None = None) -> None:
        """The hub is gone: fail what waits for it; later requests are written here."""
        self.closed = True
        log.debug("forward: the hub is gone (%s); writing here from now on", reason or "closed")
        waiting, self._waiting = self._waiting, {}
        for future, _since in waiting.values():
            if not future.done():
                future.set_exception(unavailable("the hub stopped before it answered"))


def unavailable(why: str) -> ApiError:
    return ApiError(503, "unavailable", f"{why}; send again", headers={"Retry-After": "5"})


def _chain(done: asyncio.Future[Any], future: asyncio.Future[Any]) -> None:
    if future.done():
        return
    if done.cancelled():
        future.cancel()
    elif (error := done.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(done.result())
