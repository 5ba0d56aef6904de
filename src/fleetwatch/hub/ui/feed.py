"""The overview's live feed: one shared view of the fleet per hub process, pushed to every
open overview page.

Every open overview used to keep its own copy of the fleet (a dict per server) and re-read
it every 30 s. Now one `FleetFeed` (per hub context) holds an immutable `FleetView` that all
pages share, and renders each server's card and map row once for all of them. While at least
one overview is open it subscribes to the event bus (`SnapshotCommitted`, published after
commit) and, every `PUSH_SECONDS`, re-reads only the servers that reported (only those some
page shows, plus any that were not online) and tells each page which servers changed; pages
replace just those cards or rows in the browser. It re-reads the whole fleet
(`services.dashboard.overview`) at the settings' refresh interval (30 s by default): that
catches what the bus does not carry (servers turning offline as time passes, pings without
snapshots, alert counts, renames, servers added or deleted). With no overview open there is
no subscription and no task.

Views and the items in them are never mutated: a change makes a new view, and an unchanged
server keeps the same item object, which is what the card cache keys on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from fleetwatch.hub.alerts.feed import Relayed
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.events import (
    EventBus,
    RemoteCommitted,
    SettingsChanged,
    SnapshotCommitted,
    Subscription,
)
from fleetwatch.hub.services import dashboard
from fleetwatch.hub.services.settings import last_settings
from fleetwatch.hub.ui import cards

#: at most one update per page per this many seconds (events in between are coalesced)
PUSH_SECONDS = 1.5
#: the whole fleet is re-read at the settings' refresh interval (this until it is known, never
#: more often than MIN_FULL_SECONDS) while an overview is open
FULL_SECONDS = 30.0
MIN_FULL_SECONDS = 5.0
#: a change in one of these re-draws pages (filters, ordering, group headers depend on them)
LAYOUT_FIELDS = ("status", "group_name", "group_color", "name", "hostname", "ip_address")
_KEY = "ui.fleet_feed"
log = logging.getLogger("fleetwatch.hub.ui")

Item = dict[str, Any]


@dataclass(frozen=True, eq=False)
class FleetView:
    """`data` as `services.dashboard.overview` returns it; `memo` holds renders that every
    page with the same filters shares (same string objects, so no copy per page)."""

    data: dict[str, Any]
    by_id: dict[str, Item]
    memo: dict[Any, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Change:
    view: FleetView
    changed: frozenset[str]
    relayout: bool
    memo: dict[Any, Any] = field(default_factory=dict)


Listener = Callable[[Change], None]
#: the server ids a page shows (None: every server, e.g. the list and map views)
Wants = Callable[[], frozenset[str] | None]


def same(a: Item, b: Item) -> bool:
    """Equal except for `last_seen` (which moves with every ping)."""
    return a is b or (a.keys() == b.keys() and all(a[k] == b[k] for k in a if k != "last_seen"))


def _with_servers(data: dict[str, Any], servers: list[Item]) -> dict[str, Any]:
    online = sum(1 for s in servers if s["status"] == "online")
    groups: dict[str, dict[str, Any]] = {}
    for s in servers:
        if name := s["group_name"]:
            g = groups.setdefault(
                name, {"name": name, "color": s["group_color"], "servers": 0, "online": 0}
            )
            g["servers"] += 1
            g["online"] += s["status"] == "online"
    summary = {**data["summary"], "online_servers": online}
    summary["offline_servers"] = summary["total_servers"] - online
    groups_list = sorted(groups.values(), key=lambda g: str(g["name"]))
    return {**data, "summary": summary, "servers": servers, "groups": groups_list}


class FleetFeed:
    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self.view: FleetView | None = None
        self._loaded_at = 0.0
        self._listeners: dict[str, tuple[Listener, Wants]] = {}
        self._sub: Subscription | None = None
        self._dropped = 0
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stale: set[str] = set()
        self._forced: set[str] = set()
        #: the view's numbers are those of every server's latest snapshot as last read
        self._complete = False
        self._cards: dict[str, tuple[Item, str]] = {}
        self._rows: dict[str, tuple[Item, str]] = {}

    async def current(self, metrics: bool = True) -> FleetView:
        """The shared view; re-read when older than the refresh interval (`PUSH_SECONDS`
        while no overview is open, since nothing keeps it current then), or when `metrics`
        are asked for and some servers' numbers were skipped since the last full read (what
        a page that draws cards needs; the frame needs counts only)."""
        max_age = self._full_every() if self._task is not None else PUSH_SECONDS
        change = None
        async with self._lock:
            old = self.view is None or time.monotonic() - self._loaded_at > max_age
            if old or (metrics and not self._complete):
                change = await self._full(None if metrics else frozenset())
        if change is not None and self.view is not None:
            self._notify(change)
        assert self.view is not None
        return self.view

    def card(self, item: Item) -> str:
        """The grid card of `item`, rendered once per item for every page."""
        hit = self._cards.get(item["id"])
        if hit is None or hit[0] is not item:
            weights = last_settings(self.ctx).health
            hit = self._cards[item["id"]] = (item, cards.server_card(item, weights))
        return hit[1]

    def map_row(self, item: Item) -> str:
        hit = self._rows.get(item["id"])
        if hit is None or hit[0] is not item:
            hit = self._rows[item["id"]] = (item, cards.map_row(item))
        return hit[1]

    def add(self, key: str, listener: Listener, wants: Wants) -> None:
        """Push changes to `listener` until `remove(key)`."""
        self._listeners[key] = (listener, wants)
        if self._task is None:
            bus: EventBus = self.ctx.extras.setdefault("events", EventBus())
            # this process's snapshots, its workers', other replicas'; settings changes
            types = (SnapshotCommitted, Relayed, RemoteCommitted, SettingsChanged)
            self._sub = bus.subscribe("dashboard", types, maxsize=20_000)
            self._dropped = 0
            self._task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, key: str) -> None:
        self._listeners.pop(key, None)

    def touch(self, ids: set[str]) -> None:
        """Re-read these servers at the next push (a page just scrolled to them: what the
        feed skipped while no page showed them)."""
        self._stale |= ids
        self._forced |= ids

    async def _run(self) -> None:
        try:
            while self._listeners:
                await asyncio.sleep(PUSH_SECONDS)
                try:
                    await self._tick()
                except Exception:  # a failed read must not end the pushes
                    log.exception("dashboard live feed: reading the fleet failed")
                    self._loaded_at = 0.0
        finally:
            bus: EventBus | None = self.ctx.extras.get("events")
            if bus is not None and self._sub is not None:
                bus.unsubscribe(self._sub)
            self._sub, self._task = None, None

    async def _tick(self) -> None:
        sub = self._sub
        ids: set[str] = set()
        for event in sub.drain(sub.queue.maxsize) if sub else ():
            if isinstance(event, RemoteCommitted):
                ids.update(event.server_ids)
            elif isinstance(event, SettingsChanged):
                self._loaded_at = 0.0  # thresholds, offline limit: re-read the whole fleet
            else:
                ids.add(event.server_id)
        dropped = sub is not None and sub.dropped != self._dropped
        if sub is not None:
            self._dropped = sub.dropped
        change: Change | None
        async with self._lock:
            if (
                dropped
                or self.view is None
                or time.monotonic() - self._loaded_at >= self._full_every()
            ):
                change = await self._full(self._wanted())
            elif ids or self._forced:
                change = await self._partial(ids)
            else:
                return
        if change is not None:
            self._notify(change)

    def _full_every(self) -> float:
        """The settings' refresh interval (seed 001's auto-refresh, 30 s by default)."""
        if self.view is None:
            return FULL_SECONDS
        seconds = self.view.data["settings"].get("refresh_interval_seconds") or FULL_SECONDS
        return max(float(seconds), MIN_FULL_SECONDS)

    def _notify(self, change: Change) -> None:
        for key, (listener, _wants) in list(self._listeners.items()):
            try:
                listener(change)
            except Exception:  # one broken page must not stop the others' updates
                log.exception("dashboard live update failed; page %s dropped from the feed", key)
                self.remove(key)

    async def _full(self, metrics_of: AbstractSet[str] | None) -> Change:
        """Re-read the fleet; decode newer snapshots only of `metrics_of` (None: all)."""
        data = await dashboard.overview(self.ctx, metrics_of)
        self._complete = metrics_of is None
        self._loaded_at = time.monotonic()
        self._stale.clear()
        self._forced.clear()
        old = self.view
        if old is None:
            self.view = FleetView(data, {s["id"]: s for s in data["servers"]})
            return Change(self.view, frozenset(), True)
        servers: list[Item] = []
        changed: set[str] = set()
        relayout = [s["id"] for s in data["servers"]] != [s["id"] for s in old.data["servers"]]
        for item in data["servers"]:
            prev = old.by_id.get(item["id"])
            if prev is not None and same(prev, item):
                servers.append(prev)
                continue
            servers.append(item)
            changed.add(item["id"])
            relayout = relayout or prev is None or _moved(prev, item)
        self.view = FleetView({**data, "servers": servers}, {s["id"]: s for s in servers})
        present = self.view.by_id
        for cache in (self._cards, self._rows):
            for gone in [k for k in cache if k not in present]:
                del cache[gone]
        return Change(self.view, frozenset(changed), relayout)

    def _wanted(self) -> set[str] | None:
        """The servers some open page shows (None: some page shows them all)."""
        union: set[str] = set()
        for _listener, wants in self._listeners.values():
            ids = wants()
            if ids is None:
                return None
            union |= ids
        return union

    async def _partial(self, ids: set[str]) -> Change | None:
        view = self.view
        assert view is not None
        ids |= self._stale
        wanted = self._wanted()
        waking = {i for i in ids if (view.by_id.get(i) or {}).get("status") != "online"}
        fetch = ids if wanted is None else (ids & (wanted | self._forced)) | waking
        self._stale, self._forced = ids - fetch, set()
        self._complete = self._complete and not self._stale
        if not fetch:
            return None
        counts = {
            i: {"active": it["alert_count"], "critical": it["critical_alert_count"]}
            for i in fetch
            if (it := view.by_id.get(i)) is not None
        }
        fresh = await dashboard.overview_items(self.ctx, sorted(fetch), counts)
        if any(i not in view.by_id or i not in fresh for i in fetch):
            return await self._full(wanted)  # a server was added or deleted
        changed = {i for i in fetch if not same(view.by_id[i], fresh[i])}
        if not changed:
            return None
        relayout = any(_moved(view.by_id[i], fresh[i]) for i in changed)
        by_id = {**view.by_id, **{i: fresh[i] for i in changed}}
        servers = [by_id[s["id"]] for s in view.data["servers"]]
        self.view = FleetView(_with_servers(view.data, servers), by_id)
        return Change(self.view, frozenset(changed), relayout)


def _moved(a: Item, b: Item) -> bool:
    return any(a.get(f) != b.get(f) for f in LAYOUT_FIELDS)


def fleet_feed(ctx: HubContext) -> FleetFeed:
    """The feed of this hub process (made on first use)."""
    feed: FleetFeed | None = ctx.extras.get(_KEY)
    if feed is None:
        feed = ctx.extras[_KEY] = FleetFeed(ctx)
    return feed
