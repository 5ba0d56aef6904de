"""Live on demand (A6, beyond the seeds): agents stream at 1 s only while somebody watches.

Whoever shows a server's performance monitor (the dashboard's live tab, an API client) calls
`watch(ctx, server_id)` at least every `WATCH_SECONDS` / 2; that stores
`servers.live_watch_until` (in the database, so every hub process and replica answers the same).
An agent with a control channel to this hub process (issue 21) is told at once (a `live`
message); every agent also learns it from the answers it already gets: `POST /api/ping` (its
heartbeat, at most every 30 s) and `POST /api/metrics/live` carry `"live": {"seconds": S,
"interval_seconds": 1}` while the watch lasts (no `"live"` key otherwise, so seed-001 answers
stay exact). The agent then samples every second for the next `S` seconds (relative, so clocks
need not agree) and falls back to its configured live mode when nobody renews the watch.
Seed-001 agents ignore the extra key.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, update

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.store import tables

#: how long one `watch` call keeps an agent streaming
WATCH_SECONDS = 90.0
MIN_WATCH_SECONDS, MAX_WATCH_SECONDS = 10.0, 600.0
#: the sampling interval an agent uses while watched
ON_DEMAND_INTERVAL_SECONDS = 1


async def watch(ctx: HubContext, server_id: str, seconds: float = WATCH_SECONDS) -> float | None:
    """Ask the agent of `server_id` to stream for `seconds` from now; the new end (epoch
    seconds), or None for an unknown server. Never shortens a longer watch."""
    until = time.time() + min(max(seconds, MIN_WATCH_SECONDS), MAX_WATCH_SECONDS)
    s = tables.servers

    def store(conn: Connection) -> float | None:
        row = conn.execute(
            s.select().with_only_columns(s.c.live_watch_until).where(s.c.id == server_id)
        ).first()
        if row is None:
            return None
        current = row.live_watch_until or 0.0
        if current >= until:
            return float(current)
        conn.execute(update(s).where(s.c.id == server_id).values(live_watch_until=until))
        return until

    result: float | None = await ctx.db.write(store)
    if result is not None:  # tell the agent now over its control channel, when it holds one
        from fleetwatch.hub.control import links_of
        from fleetwatch.protocol.control import encode

        await links_of(ctx).send(server_id, encode("live", live=demand(result)))
    return result


def demand(watch_until: float | None, now: float | None = None) -> dict[str, Any] | None:
    """The `"live"` value of an agent answer: what is asked of it right now."""
    now = time.time() if now is None else now
    if watch_until is None or watch_until <= now:
        return None
    return {"seconds": round(watch_until - now, 1), "interval_seconds": ON_DEMAND_INTERVAL_SECONDS}


def answer(body: dict[str, Any], watch_until: float | None) -> dict[str, Any]:
    """`body` with `"live"` added while the server is watched (left as it is otherwise)."""
    asked = demand(watch_until)
    if asked is not None:
        body["live"] = asked
    return body
