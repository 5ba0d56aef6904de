"""In-process event bus: ingest publishes committed snapshots to whoever subscribes here.

(The alert engine does not: it runs in one elected process and follows the store instead, so
it sees snapshots that other hub processes ingested. See `alerts/feed.py`.)

`publish` never blocks and never raises: each subscriber has its own bounded queue, and a full
queue drops the event for that subscriber only (counted in `Subscription.dropped`), so a slow
consumer can never delay ingest. Call `publish` from the event loop's thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from fleetwatch.protocol.models import Snapshot


@dataclass(frozen=True)
class SnapshotCommitted:
    """A snapshot of `server_id` taken at `ts` (epoch seconds) is committed to the store as
    `snapshots.id` = `row_id` (duplicates of stored snapshots are not announced)."""

    server_id: str
    ts: float
    snapshot: Snapshot
    row_id: int


class Subscription:
    def __init__(self, name: str, types: tuple[type, ...], maxsize: int) -> None:
        self.name = name
        self.types = types
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def offer(self, event: object) -> None:
        if self.types and not isinstance(event, self.types):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def get(self) -> Any:
        return await self.queue.get()

    def drain(self, limit: int) -> list[Any]:
        """Up to `limit` events already queued, without waiting."""
        out: list[Any] = []
        while len(out) < limit:
            try:
                out.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return out


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def subscribe(
        self, name: str, types: tuple[type, ...] = (), maxsize: int = 100_000
    ) -> Subscription:
        sub = Subscription(name, types, maxsize)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    @property
    def has_subscribers(self) -> bool:
        """Publishers may skip building events nobody reads."""
        return bool(self._subscriptions)

    def publish(self, event: object) -> None:
        self.published += 1
        for sub in self._subscriptions:
            sub.offer(event)
