"""Hub side of `forward.py`: commit the writes an ingest worker sends, then answer it.

A worker's `STORE` message holds the writes its event loop gathered in one turn (one per
request). They go to the writer as one job per kind (`MANY`: the store function over the
concatenated items), not one job each: every job is a future, a queue operation, a callback
and a wake-up on the hub's event loop, whose GIL the writer thread shares. When a job fails
(never expected but for a broken database) its writes are sent again one job each, so one bad
write fails alone, as it would on its own. Once every job of a message settled, the answers go
back in one `REPLY` message (split when too large), and the readings of the committed snapshots
are published for the alert engine (`relay.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import pickle
from collections.abc import Callable
from typing import Any

from fleetwatch.hub.dispatch.forward import (
    COUNTS,
    MAX_FORWARD,
    REPLY,
    STORE,
    Answer,
    Request,
    dump,
    unavailable,
)
from fleetwatch.hub.dispatch.relay import Readings, publish
from fleetwatch.hub.events import EventBus
from fleetwatch.hub.ingest.commit import STORE_FUNCTIONS, SnapshotWrite, StoreResult
from fleetwatch.hub.ingest.service import publish_live
from fleetwatch.hub.store.database import BatchFn, Database
from fleetwatch.hub.telemetry import Delta, Telemetry

log = logging.getLogger("fleetwatch.hub.dispatch")


def _many(fn: BatchFn) -> BatchFn:
    """`fn` over lists of items: one call with all of them, the results split back."""

    def run(conn: Any, lists: list[Any]) -> list[Any]:
        results = fn(conn, [item for items in lists for item in items])
        out, start = [], 0
        for items in lists:
            out.append(results[start : start + len(items)])
            start += len(items)
        return out

    run.__name__ = f"many_{getattr(fn, '__name__', 'store')}"
    return run


#: kind -> the store function over several requests' items (one object per kind: the writer
#: merges the jobs of one function into one call)
MANY: dict[str, BatchFn] = {kind: _many(fn) for kind, fn in STORE_FUNCTIONS.items()}


class StoreServer:
    """Hub side: commit the writes a worker sends with this process's writer, then answer."""

    def __init__(self, db: Database, bus: EventBus, telemetry: Telemetry | None = None) -> None:
        self._db = db
        self.bus = bus
        self.telemetry = telemetry or Telemetry()
        self.served = 0
        self.pending = 0  # requests taken and not answered yet
        self.retried = 0  # requests sent again alone after their job failed

    def counts(self, message: bytes) -> None:
        """A worker's `COUNTS`: add what it counted to this process's figures."""
        try:
            delta = pickle.loads(message[len(COUNTS) :])
        except Exception:
            delta = None
        if isinstance(delta, Delta):
            self.telemetry.merge(delta)
        else:
            log.warning("forward: an unreadable counts message of %d bytes", len(message))

    def handle(self, message: bytes, reply: Callable[[bytes], None]) -> None:
        try:
            requests: list[Request] = pickle.loads(message[len(STORE) :])
        except Exception:
            log.warning("forward: an unreadable store message of %d bytes", len(message))
            return
        groups: dict[str, list[Request]] = {}
        for request in requests:
            groups.setdefault(request[1], []).append(request)
        _Reply(self, reply, len(requests)).start(list(groups.values()))
        self.served += len(requests)

    def relay(
        self, write: SnapshotWrite, result: StoreResult, readings: list[Readings | None]
    ) -> None:
        rows = zip(result.row_ids, (row.ts for row in write.rows), readings, strict=True)
        publish(self.bus, write.server_id, list(rows))

    def submit(self, group: list[Request]) -> asyncio.Future[Any]:
        """One writer job for `group` (requests of one kind): the future of their results."""
        try:
            many = MANY.get(group[0][1])
            if many is None:
                raise ValueError(f"unknown store request {group[0][1]!r}")
            return self._db.enqueue(many, [request[2] for request in group])
        except Exception as exc:  # the writer stopped: these fail
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_exception(exc)
            return future


class _Reply:
    """The answers to one message, sent once its last job settled."""

    def __init__(self, server: StoreServer, reply: Callable[[bytes], None], count: int) -> None:
        self.server, self.reply, self.left = server, reply, count
        self.answers: list[Answer] = []
        server.pending += count

    def start(self, groups: list[list[Request]]) -> None:
        for group in groups:
            self.server.submit(group).add_done_callback(functools.partial(self.settled, group))

    def settled(self, group: list[Request], future: asyncio.Future[Any]) -> None:
        error = ConnectionError("cancelled") if future.cancelled() else future.exception()
        if error is not None and len(group) > 1:
            self.server.retried += len(group)  # each alone: one bad write fails alone
            self.start([[request] for request in group])
            return
        results = future.result() if error is None else [error] * len(group)
        if len(results) != len(group):  # a store function broke its contract: never expected
            error = RuntimeError(f"{len(results)} results for {len(group)} writes")
            results = [error] * len(group)
        for request, result in zip(group, results, strict=True):
            self.answers.append((request[0], error is None, result))
            if error is None and request[1] == "live" and result is not None:
                publish_live(self.server.bus, request[2])
            if error is None and isinstance(result, StoreResult) and request[3] is not None:
                try:
                    self.server.relay(request[2], result, request[3])
                except Exception:  # the answer must go whatever the relay does
                    log.exception("forward: readings of a committed write not relayed")
        self.left -= len(group)
        self.server.pending -= len(group)
        if not self.left:
            for part in _answer_messages(self.answers):
                self.reply(part)


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
    failed = unavailable("the hub's answer was too large") if ok else value
    return [REPLY + _answers([(request_id, False, failed)])]


def _answers(answers: list[Answer]) -> bytes:
    """Pickled answers; an exception that cannot be pickled travels as its text."""
    try:
        return dump(answers)
    except Exception:
        return dump(
            [
                (rid, ok, value if ok else RuntimeError(f"{type(value).__name__}: {value}"))
                for rid, ok, value in answers
            ]
        )
