"""Incremental cache of history buckets, so a chart refresh reads only the newest buckets.

A bucket is *complete* once it ended more than `GRACE_SECONDS` ago. Complete buckets are kept in
memory per (server, tier, step, metrics); a request then reads only the buckets after them
(usually one or two) and appends. Data arriving late for an old bucket (an agent replaying its
buffer) is detected by a marker: the number of raw snapshots stored in the cached time range,
re-counted on every request through the (server_id, ts) index (cheap). A changed count — late
data, or retention deleting old rows — rebuilds the entry; entries also expire after
`MAX_AGE_SECONDS` in any case. Correct with several hub replicas (the marker is read from the
database), and per process only: nothing to invalidate elsewhere.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from fleetwatch.hub.services.history import Series, TierChoice, query_buckets
from fleetwatch.hub.store import tables

GRACE_SECONDS = 120.0
MAX_AGE_SECONDS = 600.0
MAX_ENTRIES = 2000

_Key = tuple[str, str, int, tuple[str, ...]]


@dataclass(frozen=True)
class _Entry:
    start: float  # first bucket start covered
    done_until: float  # every bucket starting before this is complete and cached
    ts: list[float]
    series: Series
    marker: int  # raw snapshots stored in [start, done_until) when cached
    built_at: float  # monotonic


_t = tables.snapshots
#: raw snapshots of one server in [start, until): an index-only count on (server_id, ts)
_COUNT_RAW = select(func.count()).where(
    _t.c.server_id == bindparam("server_id"),
    _t.c.ts >= bindparam("start"),
    _t.c.ts < bindparam("until"),
)


def _count_raw(conn: Connection, server_id: str, start: float, until: float) -> int:
    params = {"server_id": server_id, "start": start, "until": until}
    return int(conn.execute(_COUNT_RAW, params).scalar() or 0)


def _split(ts: list[float], series: Series, at: float) -> tuple[int, list[float], Series]:
    """Index of the first bucket starting at or after `at`, plus the parts before it."""
    i = bisect.bisect_left(ts, at)
    head = {name: (mins[:i], avgs[:i], maxs[:i]) for name, (mins, avgs, maxs) in series.items()}
    return i, ts[:i], head


def _join(a_ts: list[float], a: Series, b_ts: list[float], b: Series) -> tuple[list[float], Series]:
    joined = {name: (a[name][0] + b[name][0], a[name][1] + b[name][1], a[name][2] + b[name][2])
              for name in a}  # fmt: skip
    return a_ts + b_ts, joined


def _tail(ts: list[float], series: Series, i: int) -> tuple[list[float], Series]:
    return ts[i:], {n: (mn[i:], av[i:], mx[i:]) for n, (mn, av, mx) in series.items()}


class HistoryCache:
    """Thread-safe: reads run in worker threads; entries are immutable and swapped whole."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self.hits = 0
        self.rebuilds = 0

    def _get(self, key: _Key) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def _put(self, key: _Key, entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget_server(self, server_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == server_id]:
                del self._entries[key]

    def read(
        self,
        conn: Connection,
        server_id: str,
        choice: TierChoice,
        names: tuple[str, ...],
        start: float,
        now: float,
    ) -> tuple[list[float], Series]:
        """Buckets from `start` on (complete ones from memory when still valid)."""
        step = choice.step_seconds
        key: _Key = (server_id, choice.tier, step, names)
        done_until = float(int((now - GRACE_SECONDS) // step) * step)
        entry = self._get(key)
        # Counts are taken before the buckets are read: a row landing in between then shows
        # up as a changed marker next time (a rebuild), never as a silently missing value.
        if entry is not None and self._valid(conn, server_id, entry, start):
            self.hits += 1
            added = 0
            if done_until > entry.done_until:
                added = _count_raw(conn, server_id, entry.done_until, done_until)
            ts, series = query_buckets(conn, server_id, choice, names, entry.done_until)
            i, new_ts, new_series = _split(ts, series, done_until)
            if done_until > entry.done_until:
                all_ts, all_series = _join(entry.ts, entry.series, new_ts, new_series)
                entry = _Entry(
                    entry.start, done_until, all_ts, all_series, entry.marker + added,
                    entry.built_at,
                )  # fmt: skip
                self._put(key, entry)
            first = bisect.bisect_left(entry.ts, start)
            cached_ts, cached = _tail(entry.ts, entry.series, first)
            open_ts, open_series = _tail(ts, series, i)
            return _join(cached_ts, cached, open_ts, open_series)
        self.rebuilds += 1
        marker = _count_raw(conn, server_id, start, done_until)
        ts, series = query_buckets(conn, server_id, choice, names, start)
        _i, done_ts, done_series = _split(ts, series, done_until)
        self._put(key, _Entry(start, done_until, done_ts, done_series, marker, time.monotonic()))
        return ts, series

    @staticmethod
    def _valid(conn: Connection, server_id: str, entry: _Entry, start: float) -> bool:
        if entry.start > start or time.monotonic() - entry.built_at > MAX_AGE_SECONDS:
            return False
        return _count_raw(conn, server_id, entry.start, entry.done_until) == entry.marker


def history_cache(extras: dict[str, Any]) -> HistoryCache:
    """The hub's history cache (one per process, in `ctx.extras`)."""
    cache = extras.get("history.cache")
    if cache is None:
        cache = extras["history.cache"] = HistoryCache()
    assert isinstance(cache, HistoryCache)
    return cache
