"""The hub process's side of the ingest workers: start, hand over, restart, stop.

Each worker gets one end of a `SOCK_SEQPACKET` socket pair (message boundaries are kept: a
connection is one message, its bytes read so far with its socket as `SCM_RIGHTS`).
The worker sends `READY` on it once it serves; the hub hands connections only to ready workers,
in turn. The same channel carries the workers' writes and the hub's answers (`forward.py`) and
the wanted metrics (`relay.py`). At shutdown the hub sends `STOP` and keeps answering writes
until each worker exited (`drain`). A worker also stops when its channel closes (the hub died,
even killed with SIGKILL): so workers never outlive the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetwatch.hub.alerts.relayfilter import RelayFilter
from fleetwatch.hub.dispatch.forward import COUNTS, STORE
from fleetwatch.hub.dispatch.store_server import StoreServer

log = logging.getLogger("fleetwatch.hub.dispatch")

READY = b"ready"
#: the hub's message telling a worker to finish what it holds and exit
STOP = b"X"
#: how often the hub checks whether what its workers are to relay changed (`relay.py`): a new
#: rule's metric, a server that has a condition state now
ADVERTISE_SECONDS = 0.25
#: the largest message on a channel (a connection's first bytes, or a write)
MAX_MESSAGE = 256 * 1024
#: how often the supervisor looks for workers that exited, and the wait before a restart
SUPERVISE_SECONDS = 1.0
RESTART_BACKOFF_SECONDS = 2.0
#: how soon an answer a worker's full channel refused is sent again
ANSWER_RETRY_SECONDS = 0.002


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes]
    channel: socket.socket  # the hub's end, non-blocking
    ready: bool = False
    gone: bool = False
    handed: int = field(default=0)
    told: RelayFilter | None = None  # what it was last told (`relay.Wanted`)


class IngestPool:
    """`count` ingest worker processes started with `environ` (the hub's settings)."""

    def __init__(self, count: int, environ: dict[str, str]) -> None:
        self.count = count
        self._environ = environ
        self._workers: list[Worker] = []
        self._turn = itertools.count()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.handed_over = 0
        self.served_here = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._store: StoreServer | None = None
        self._advertiser: asyncio.Task[None] | None = None

    @property
    def workers(self) -> list[Worker]:
        return list(self._workers)

    def start(self) -> None:
        self._workers = [self._spawn(i) for i in range(self.count)]
        self._supervisor = threading.Thread(
            target=self._supervise, name="fleetwatch-ingest-pool", daemon=True
        )
        self._supervisor.start()

    def _spawn(self, index: int) -> Worker:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ, **self._environ, FLEETWATCH_INGEST_WORKER=str(index))
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "fleetwatch.hub.dispatch.worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                env=env,
            )
        finally:
            theirs.close()
        mine.setblocking(False)
        log.info("ingest worker %d started (pid %d)", index, proc.pid)
        return Worker(index, proc, mine)

    def attach(self, wanted: Callable[[], RelayFilter], store: StoreServer) -> None:
        """Start reading the workers' messages on the running event loop (the hub's lifespan):
        `READY`, then their writes (`forward.py`), committed by `store`; and tell them, whenever
        it changes, what the alert engine wants relayed (`wanted()`, `relay.py`)."""
        self._loop = asyncio.get_running_loop()
        self._store = store
        for worker in self._workers:
            self._watch(worker)
        self._advertiser = self._loop.create_task(self._advertise(wanted), name="advertise")

    def detach(self) -> None:
        if self._advertiser is not None:
            self._advertiser.cancel()
            self._advertiser = None
        if self._loop is not None:
            for worker in self._workers:
                self._unwatch(worker)
        self._loop = self._store = None

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until every worker said `READY` (or is gone); False after `timeout` seconds.
        The hub's lifespan waits for this, so when the hub answers, its workers serve too."""
        deadline = time.monotonic() + timeout
        while any(not (w.ready or w.gone) for w in self._workers):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _advertise(self, wanted: Callable[[], RelayFilter]) -> None:
        while True:
            try:
                current = wanted()
                message: bytes | None = None
                for worker in self._workers:
                    if worker.ready and not worker.gone and worker.told != current:
                        message = message or current.message()
                        with contextlib.suppress(OSError):  # full: told on the next round
                            worker.channel.send(message)
                            worker.told = current
            except Exception:  # the loop must outlive any one round
                log.exception("ingest workers: could not tell them what to relay")
            await asyncio.sleep(ADVERTISE_SECONDS)

    def _watch(self, worker: Worker) -> None:
        if self._loop is not None and not worker.gone:
            self._loop.add_reader(worker.channel.fileno(), self._read, worker)

    def _unwatch(self, worker: Worker) -> None:
        if self._loop is not None and worker.channel.fileno() >= 0:
            self._loop.remove_reader(worker.channel.fileno())

    def _read(self, worker: Worker) -> None:
        while True:
            try:
                message = worker.channel.recv(MAX_MESSAGE)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message:  # it exited (the supervisor restarts it)
                worker.gone = True
                self._unwatch(worker)
                return
            if message == READY:
                worker.ready = True
            elif message.startswith(STORE) and self._store is not None:
                self._store.handle(message, functools.partial(self._answer, worker))
            elif message.startswith(COUNTS) and self._store is not None:
                self._store.counts(message)

    async def drain(self, timeout: float) -> bool:
        """Stop the workers while this process still commits their writes: each is told to
        stop (`STOP`), finishes the requests it holds (the hub answers their writes), closes
        its connections and exits. False if some were still there after `timeout` seconds
        (`stop()` then closes their channels: what they still wait for gets 503)."""
        self._stopping.set()  # the supervisor restarts nobody now
        for worker in self._workers:
            if not worker.gone:
                with contextlib.suppress(OSError):
                    worker.channel.send(STOP)
        deadline = time.monotonic() + timeout
        while any(not w.gone and w.proc.poll() is None for w in self._workers):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def _answer(self, worker: Worker, message: bytes) -> None:
        """Send a worker its writes' answer; shortly again while its channel is full."""
        if worker.gone or worker.channel.fileno() < 0:
            return  # it exited: its agents retry
        try:
            worker.channel.send(message)
        except BlockingIOError:
            if self._loop is not None:
                self._loop.call_later(ANSWER_RETRY_SECONDS, self._answer, worker, message)
        except OSError as exc:
            log.debug("ingest worker %d: answer not sent (%s)", worker.index, exc)

    def hand_off(self, transport: asyncio.Transport, first: bytes) -> bool | None:
        """Give the connection of `transport` (and the bytes read from it) to a ready worker.

        True: handed over. None: no worker can take it right now, but one is starting or its
        queue is full: the caller may try again shortly. False: none ever will (no workers,
        all gone, or more bytes than a message holds): the caller serves it.
        """
        workers = self._workers
        sock = transport.get_extra_info("socket")
        if not workers or sock is None:
            return False
        start = next(self._turn)
        later = False
        for k in range(len(workers)):
            worker = workers[(start + k) % len(workers)]
            if not worker.ready:
                later = later or not worker.gone
                continue
            try:
                socket.send_fds(worker.channel, [first], [sock.fileno()])
            except BlockingIOError:
                later = True  # its queue is full: it is busy
                continue
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:
                    break
                worker.gone = True  # its end is closed: it exited
                continue
            worker.handed += 1
            self.handed_over += 1
            return True
        if later and len(first) <= MAX_MESSAGE:
            return None
        self.served_here += 1
        return False

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_SECONDS):
            for worker in list(self._workers):
                code = worker.proc.poll()
                if code is None:
                    continue
                worker.gone = True
                replacement = None
                if code == 0:  # it was told to stop (SIGTERM): the hub serves its share
                    log.warning("ingest worker %d stopped; not restarted", worker.index)
                else:
                    log.warning("ingest worker %d exited with %s; restarting", worker.index, code)
                    if self._stopping.wait(RESTART_BACKOFF_SECONDS):
                        return
                    replacement = self._spawn(worker.index)
                workers = [w for w in self._workers if w is not worker]
                self._workers = workers if replacement is None else [*workers, replacement]
                loop = self._loop
                if loop is not None:  # the loop closes the old channel and reads the new one
                    loop.call_soon_threadsafe(self._replace, worker, replacement)
                else:
                    worker.channel.close()

    def _replace(self, old: Worker, new: Worker | None) -> None:
        self._unwatch(old)
        old.channel.close()
        if new is not None:
            self._watch(new)

    def stop(self, timeout: float = 30.0) -> None:
        """Close every channel (each worker then finishes what it holds and exits); wait."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.channel.close()
        for worker in self._workers:
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("ingest worker %d did not stop in %.0f s; killed", worker.index, timeout)
                worker.proc.kill()
                worker.proc.wait()
