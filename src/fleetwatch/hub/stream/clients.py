"""One connected stream client: its filter, its bounded queue, its sender.

`offer` never blocks (the broker calls it for every client on every event): a full queue drops
the message and starts the slow-consumer clock; a queue still full `slow_seconds` later gets
the client kicked (`error` `slow_consumer`, then closed). The sender task is the only writer
of the socket, so a stuck client stalls nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fleetwatch.hub.services.users import Principal
from fleetwatch.hub.stream.filters import Filter

_ids = itertools.count(1)
Send = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class StreamLimits:
    queue_max: int = 512  # messages waiting per client
    slow_seconds: float = 5.0  # queue full this long: the client is dropped
    max_frame_bytes: int = 65_536  # client frames larger than this get `frame_too_large`
    max_clients: int = 5_000


class StreamClient:
    def __init__(self, principal: Principal, limits: StreamLimits) -> None:
        self.id = next(_ids)
        self.principal = principal
        self.limits = limits
        self.filter: Filter | None = Filter()  # seed 004: everything, from the first message
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=limits.queue_max)
        self.last_sent: dict[str, float] = {}  # server id -> when its last snapshot was queued
        self.full_since: float | None = None
        self.dropped = 0
        self.sent = 0
        #: set (a plain future, no task) when the broker drops the client
        self.kicked: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.kick_reason = ""

    def offer(self, message: str, now: float | None = None) -> bool:
        """Queue `message` for this client; False when it was dropped (queue full)."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            self.check_slow(time.monotonic() if now is None else now)
            return False
        self.full_since = None
        return True

    def reply(self, message: str) -> None:
        """A control reply: always queued (the oldest waiting message makes room)."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(message)

    def check_slow(self, now: float) -> None:
        if not self.queue.full():
            self.full_since = None
            return
        if self.full_since is None:
            self.full_since = now
        elif now - self.full_since >= self.limits.slow_seconds and not self.kicked.done():
            self.kick(
                f"your queue stayed full for {self.limits.slow_seconds:g} s "
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

    async def send_loop(self, send: Send) -> None:
        """Write queued messages to the socket, in order, until cancelled."""
        while True:
            message = await self.queue.get()
            await send(message)
            self.sent += 1

    def drop_pending(self) -> None:
        """Forget every queued message (a dropped client gets only its error)."""
        while not self.queue.empty():
            self.queue.get_nowait()

    async def flush(self, send: Send) -> None:
        """Write what is queued (the caller bounds the time)."""
        while not self.queue.empty():
            await send(self.queue.get_nowait())
