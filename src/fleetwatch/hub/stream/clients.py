"""One connected stream client: its filter, what waits for it, and how it is written.

The broker `offer`s messages and then `flush`es; nothing here awaits the client's socket.
`pending` keeps the order messages were offered in. While the client keeps up, every message
is kept; once it is behind (its socket's buffer stays full after a flush), a newer snapshot of
a server *replaces* the one still waiting for that server, in that one's place, so a slow
reader gets the newest numbers of every server rather than falling further behind. Alerts and
control replies are never replaced. A client whose socket takes nothing at all for
`slow_seconds` gets `error` `slow_consumer` and is closed.

With a `Wire` (`wire.py`, the hub's own server) a flush joins the waiting frames into a few
writes until the socket's buffer is full; the broker flushes clients in rounds with a time
budget, and a client its round did not reach is behind too. Without a wire, a sender task
writes the messages through ASGI, one at a time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.stream.filters import Filter
from fleetwatch.hub.stream.wire import Wire, text_frame

_ids = itertools.count(1)
Send = Callable[[str], Awaitable[None]]
CHUNK = 64 * 1024  # frames joined into one write up to this size
#: messages have waited this long: the client is behind (newer snapshots replace older ones)
MAX_LAG = 0.25


@dataclass(frozen=True)
class StreamLimits:
    queue_max: int = 4096  # messages waiting per client (beyond: the oldest is dropped)
    slow_seconds: float = 5.0  # socket takes nothing this long: the client is dropped
    max_frame_bytes: int = 65_536  # client frames larger than this get `frame_too_large`
    max_clients: int = 5_000


class Message:
    """One encoded message, shared by every client it goes to; its frame is built once."""

    __slots__ = ("_frame", "key", "text")

    def __init__(self, text: str, key: str | None = None) -> None:
        self.text = text
        self.key = key  # a server id: a newer message of the same key may replace this one
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.text.encode())
        return self._frame


class StreamClient:
    def __init__(self, principal: Principal, limits: StreamLimits, wire: Wire | None) -> None:
        self.id = next(_ids)
        self.principal = principal
        self.limits = limits
        self.wire = wire
        self.filter: Filter | None = Filter()  # seed 004: everything, from the first message
        self.pending: dict[object, Message] = {}
        self.behind = False  # messages waited longer than MAX_LAG: newer ones replace them
        self.waiting_since = 0.0  # when the oldest waiting message was offered
        self.last_sent: dict[str, float] = {}  # server id -> when its last snapshot was offered
        self.stalled_since: float | None = None  # the socket took nothing since
        self.dropped = 0  # replaced or discarded before they were written
        self.sent = 0
        self._unique = itertools.count()
        self._wake = asyncio.Event()  # the ASGI sender's signal
        #: set (a plain future, no task) when the broker drops the client
        self.kicked: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.kick_reason = ""
        self.log_from = 0  # family `logs`: lines with ids above this (set on subscribe)
        self.watches: dict[str, asyncio.Task[None]] = {}  # command id -> its watch (watch.py)
        if wire is not None:
            wire.on_writable(self._writable)

    def offer(self, message: Message) -> None:
        """Queue `message`; while behind, it replaces the waiting one of its key."""
        if not self.pending:
            self.waiting_since = time.monotonic()
        key = message.key
        slot: object = key if key is not None and self.behind else next(self._unique)
        if slot in self.pending:
            self.dropped += 1
        self.pending[slot] = message
        if len(self.pending) > self.limits.queue_max:
            del self.pending[next(iter(self.pending))]
            self.dropped += 1

    def reply(self, text: str) -> None:
        """A control reply: queued after what waits, and written now."""
        self.offer(Message(text))
        self.flush()

    def flush(self, now: float | None = None) -> None:
        """Write what waits, as far as the socket takes it."""
        if not self.pending:
            self.behind = False
            return
        wire = self.wire
        if wire is None:
            self._wake.set()
            return
        if not wire.paused:
            self._write(wire)
        now = time.monotonic() if now is None else now
        if not self.pending:
            self.behind = False
            self.stalled_since = None
            return
        self.check_lag(now)
        if self.stalled_since is None:
            self.stalled_since = now

    def check_lag(self, now: float) -> None:
        if self.pending and not self.behind and now - self.waiting_since > MAX_LAG:
            self.fall_behind()

    def _write(self, wire: Wire) -> None:
        pending, self.pending = self.pending, {}
        items = iter(pending.items())
        chunk: list[bytes] = []
        size = 0
        for _slot, message in items:
            chunk.append(message.frame)
            size += len(chunk[-1])
            self.sent += 1
            if size >= CHUNK:
                if not wire.write(b"".join(chunk)):
                    return  # closing: nothing more goes out
                chunk, size = [], 0
                if wire.paused:
                    break
        if chunk and not wire.write(b"".join(chunk)):
            return
        self.pending = dict(items)  # what the socket did not take, in order, keys kept

    def fall_behind(self) -> None:
        """From now on newer messages replace waiting ones; of those waiting already, the
        newest per key stays (in the place of its key's oldest)."""
        if not self.behind:
            self.behind = True
            kept: dict[object, Message] = {}
            for slot, message in self.pending.items():
                kept[message.key if message.key is not None else slot] = message
            self.dropped += len(self.pending) - len(kept)
            self.pending = kept

    def _writable(self) -> None:
        # the socket took what it had. A client that keeps up gets the rest at once (or a
        # large message would wait a broker round per socket buffer); one that is behind waits
        # for the broker's next round, whose time budget keeps the event loop for ingest
        self.stalled_since = None
        if not self.behind or self.kicked.done():  # a dropped client's error goes out first
            self.flush()

    def check_slow(self, now: float) -> None:
        since = self.stalled_since
        if since is None:
            return
        if now - since >= self.limits.slow_seconds and not self.kicked.done():
            self.kick(
                f"your connection took nothing for {self.limits.slow_seconds:g} s "
                f"({self.dropped} messages dropped); read faster or subscribe to less"
            )

    def due(self, server_id: str, now: float) -> bool:
        """The client's `rate_seconds` lets a snapshot of `server_id` through now."""
        rate = self.filter.rate_seconds if self.filter is not None else 0.0
        if rate <= 0:
            return True
        last = self.last_sent.get(server_id)
        if last is not None and now - last < rate:
            return False
        self.last_sent[server_id] = now
        return True

    def kick(self, reason: str) -> None:
        self.kick_reason = reason
        if not self.kicked.done():
            self.kicked.set_result(reason)

    def close(self) -> None:
        if self.wire is not None:
            self.wire.on_writable(None)

    async def send_loop(self, send: Send) -> None:
        """Without a wire: write waiting messages through ASGI, in order, until cancelled."""
        while True:
            if not self.pending:
                self.behind = False
                self._wake.clear()
                await self._wake.wait()
                continue
            pending, self.pending = self.pending, {}
            self.behind = True  # what arrives while these are written may be replaced
            self.stalled_since = time.monotonic()
            for message in pending.values():
                await send(message.text)
                self.sent += 1
                self.stalled_since = time.monotonic()
            self.stalled_since = None

    async def flush_fallback(self, send: Send) -> None:
        """Write what waits through ASGI (the caller bounds the time)."""
        pending, self.pending = self.pending, {}
        for message in pending.values():
            await send(message.text)
