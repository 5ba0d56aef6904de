"""In-process event bus: ingest publishes committed snapshots to whoever subscribes here.

(The alert engine does not: it runs in one elected process and follows the store instead, so
it sees snapshots that other hub processes ingested. See `alerts/feed.py`.)

`publish` never blocks and never raises: each subscriber has its own bounded queue, and a full
queue drops the event for that subscriber only (counted in `Subscription.dropped`), so a slow
consumer can never delay ingest. Call `publish` from the event loop's thread.

A committed snapshot is a `SnapshotView`: ingest validates most bodies into msgspec twins of the
wire models (`ingest/decode.py`) and the rest into the pydantic `Snapshot`; both have the same
attributes with the same values. The protocols below list what the hub reads from either (mypy
checks the pydantic side; `tests/unit/test_wire_fast_views.py` checks the msgspec side), so a
reader of a new field adds it here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# Scalars are plain attributes; nested models and containers are read-only properties, so a
# `list[Disk]` field satisfies `Sequence[DiskView]` (an attribute would have to match exactly).


class DiskView(Protocol):
    mountpoint: str
    free: int
    percent: float


class NetworkView(Protocol):
    bytes_sent_per_sec: float | None
    bytes_recv_per_sec: float | None


class InterfaceView(Protocol):
    name: str
    bytes_sent_per_sec: float | None
    bytes_recv_per_sec: float | None
    errors_per_sec: float | None
    drops_per_sec: float | None


class CpuView(Protocol):
    count_logical: int | None
    load_1: float | None


class SwapView(Protocol):
    total_bytes: int
    percent: float


class DiskIOView(Protocol):
    read_bytes_per_sec: float | None
    write_bytes_per_sec: float | None


class MetricsView(Protocol):
    cpu_percent: float
    memory_percent: float
    process_count: int | None
    thread_count: int | None

    @property
    def disks(self) -> Sequence[DiskView]: ...
    @property
    def network(self) -> NetworkView: ...
    @property
    def interfaces(self) -> Sequence[InterfaceView]: ...
    @property
    def cpu(self) -> CpuView | None: ...
    @property
    def swap(self) -> SwapView | None: ...
    @property
    def disk_io(self) -> DiskIOView | None: ...


class ServiceView(Protocol):
    service_name: str
    status: str
    start_type: str | None
    discovered: bool


class WatchedProcessView(Protocol):
    alive: bool


class GpuView(Protocol):
    index: int
    temperature_celsius: float | None


class AgentView(Protocol):
    version: str


class SnapshotView(Protocol):
    """A validated snapshot as the hub reads it: a `protocol.models.Snapshot` or its twin."""

    snapshot_id: str | None
    collected_at: str | None

    @property
    def metrics(self) -> MetricsView: ...
    @property
    def services(self) -> Sequence[ServiceView]: ...
    @property
    def watched_processes(self) -> Mapping[str, WatchedProcessView]: ...
    @property
    def gpus(self) -> Sequence[GpuView]: ...
    @property
    def agent(self) -> AgentView | None: ...


@dataclass(frozen=True)
class SnapshotCommitted:
    """A snapshot of `server_id` taken at `ts` (epoch seconds) is committed to the store as
    `snapshots.id` = `row_id` (duplicates of stored snapshots are not announced)."""

    server_id: str
    ts: float
    snapshot: SnapshotView
    row_id: int


@dataclass(frozen=True)
class RemoteCommitted:
    """Snapshot rows another hub process or replica committed (`bridge.py`): read them back."""

    row_ids: tuple[int, ...]
    server_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveCommitted:
    """A live sample of `server_id` taken at `ts` is committed; `detail` is its stored form
    (`codec.pack_json` of the sample's JSON), unpacked only by a consumer that wants it."""

    server_id: str
    ts: float
    detail: bytes


@dataclass(frozen=True)
class SettingsChanged:
    """Dashboard settings were changed (`services/settings.py`; `keys` = the names changed)."""

    keys: tuple[str, ...]


class AlertChangeView(Protocol):
    @property
    def kind(self) -> str: ...  # fired | escalated | deescalated | repeat | resolved
    @property
    def alert(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class AlertsChanged:
    """Alert transitions the engine just committed (`alerts.state.AlertEvent` each)."""

    events: tuple[AlertChangeView, ...]


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
