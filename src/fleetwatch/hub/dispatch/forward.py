"""Worker -> hub: ingest writes committed by the hub process's one writer.

Each ingest worker used to commit its agents' snapshots itself. Two processes writing one
SQLite file take turns on its write lock, each with half-size batches, and each worker's writer
thread fought its busy event loop for the GIL: measured, its writer spent 2.7x the CPU per
snapshot of the same writer running alone. So a worker prepares everything CPU-bound (parsing,
validation, compression: `services.ingest.prepare_snapshots`) and sends the write itself to the
hub process over its channel; the hub's writer, whose event loop is mostly idle, merges the
writes of every worker into one batch and commits it, then answers. The worker answers its
agent only after that answer, so "answered only after commit" holds across processes. Measured
against per-worker writers (docs/architecture.md): the same throughput, p99 ~9 ms lower.

Messages: `STORE` + pickle of `[(request_id, kind, item, readings), ...]` (worker -> hub) and
`REPLY` + pickle of `[(request_id, ok, result or exception), ...]` (hub -> worker); `kind` names
one of `services.ingest.STORE_FUNCTIONS`; `readings` (snapshots only) are the alert readings of
each snapshot, which the hub publishes once they are committed (`relay.py`). Pickle is safe
here: both ends are our own processes, and nothing a client sent is unpickled (the items are
built by the worker after validation).

When the hub is gone (its channel closed), requests still waiting get 503 (their agents retry;
snapshot ids make the retry idempotent) and later ones are written by the worker's own writer.
A request too large for one message is written by the worker's own writer too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import functools
import itertools
import logging
import pickle
import socket
from collections.abc import Callable, Sequence
from typing import Any

from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.dispatch.relay import Readings, Wanted, publish
from fleetwatch.hub.events import EventBus, SnapshotView
from fleetwatch.hub.services.ingest import STORE_FUNCTIONS, SnapshotWrite, StoreResult
from fleetwatch.hub.store.database import Database

log = logging.getLogger("fleetwatch.hub.dispatch")

STORE = b"S"
REPLY = b"R"
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


def _dumps(obj: object) -> bytes:
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
        message = STORE + _dumps(requests)
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
                future.set_exception(_unavailable("the hub did not answer in time"))
        self._sweeping = True
        loop.call_later(SWEEP_SECONDS, self._sweep)

    def close(self, reason: BaseException | None = None) -> None:
        """The hub is gone: fail what waits for it; later requests are written here."""
        self.closed = True
        log.debug("forward: the hub is gone (%s); writing here from now on", reason or "closed")
        waiting, self._waiting = self._waiting, {}
        for future, _since in waiting.values():
            if not future.done():
                future.set_exception(_unavailable("the hub stopped before it answered"))


def _unavailable(why: str) -> ApiError:
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


class StoreServer:
    """Hub side: commit the writes a worker sends with this process's writer, then answer."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus
        self.served = 0
        self.pending = 0  # requests taken and not answered yet

    def handle(self, message: bytes, reply: Callable[[bytes], None]) -> None:
        try:
            requests: list[Request] = pickle.loads(message[len(STORE) :])
        except Exception:
            log.warning("forward: an unreadable store message of %d bytes", len(message))
            return
        answers: list[Answer] = []
        left = len(requests)
        self.pending += left

        def settled(request: Request, future: asyncio.Future[Any]) -> None:
            nonlocal left
            error = ConnectionError("cancelled") if future.cancelled() else future.exception()
            result = future.result() if error is None else error
            answers.append((request[0], error is None, result))
            if isinstance(result, StoreResult) and request[3] is not None:
                try:
                    self._relay(request[2], result, request[3])
                except Exception:  # the answer must go whatever the relay does
                    log.exception("forward: readings of a committed write not relayed")
            left -= 1
            self.pending -= 1
            if not left:
                for part in _answer_messages(answers):
                    reply(part)

        loop = asyncio.get_running_loop()
        for request in requests:
            kind, item = request[1], request[2]
            function = STORE_FUNCTIONS.get(kind)
            try:
                if function is None:
                    raise ValueError(f"unknown store request {kind!r}")
                future = self._db.enqueue(function, item)
            except Exception as exc:  # the writer stopped: this one fails alone
                future = loop.create_future()
                future.set_exception(exc)
            future.add_done_callback(functools.partial(settled, request))
        self.served += len(requests)

    def _relay(
        self, write: SnapshotWrite, result: StoreResult, readings: list[Readings | None]
    ) -> None:
        rows = zip(result.row_ids, (row.ts for row in write.rows), readings, strict=True)
        publish(self._bus, write.server_id, list(rows))


def _answer_messages(answers: list[Answer]) -> list[bytes]:
    """`REPLY` messages of at most `MAX_FORWARD` bytes for `answers`. A result carries its
    server's compression reference (a snapshot's text) when one was ensured; one too large for
    any message goes without it (the worker then offers one again with a later snapshot)."""
    message = REPLY + _answers(answers)
    if len(message) <= MAX_FORWARD:
        return [message]
    if len(answers) > 1:
        half = len(answers) // 2
        return _answer_messages(answers[:half]) + _answer_messages(answers[half:])
    request_id, ok, value = answers[0]
    if ok and isinstance(value, StoreResult) and value.reference is not None:
        return _answer_messages([(request_id, ok, dataclasses.replace(value, reference=None))])
    failed = _unavailable("the hub's answer was too large") if ok else value
    return [REPLY + _answers([(request_id, False, failed)])]


def _answers(answers: list[Answer]) -> bytes:
    """Pickled answers; an exception that cannot be pickled travels as its text."""
    try:
        return _dumps(answers)
    except Exception:
        return _dumps(
            [
                (rid, ok, value if ok else RuntimeError(f"{type(value).__name__}: {value}"))
                for rid, ok, value in answers
            ]
        )
