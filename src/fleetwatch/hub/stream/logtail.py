"""The live log tail on `/ws`: family `logs` (opt-in, like `live`).

While some client's subscription names `logs`, one task per hub process reads the lines
stored since the last it saw (`logs.tail_rows`, every `POLL_SECONDS`, oldest first) and sends
each such client `{"type": "log_lines", "lines": [...]}` with the lines of the servers its
filter wants (at or above its `log_level`, when given). It reads the store, so lines that
another hub process or replica took in arrive too. A client sees the lines stored after
its `subscribe`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any

from fleetwatch.hub.services import logs
from fleetwatch.hub.stream import messages
from fleetwatch.hub.stream.messages import LOGS

if TYPE_CHECKING:
    from fleetwatch.hub.stream.broker import StreamBroker

log = logging.getLogger("fleetwatch.hub.stream")
POLL_SECONDS = 0.5
BATCH = 1000  # tail_rows' default limit


async def run(broker: StreamBroker) -> None:
    """Forever (the broker cancels it with its last client)."""
    last: int | None = None
    while True:
        rows: list[dict[str, Any]] = []
        wanting = [c for c in broker.clients.values()
                   if c.filter is not None and LOGS in c.filter.families]  # fmt: skip
        if not wanting:
            last = None  # nobody tails: start from the newest line when somebody does
            await asyncio.sleep(POLL_SECONDS)
            continue
        try:
            if last is None:
                last = min(c.log_from for c in wanting)
            rows = await broker.ctx.db.read(functools.partial(logs.tail_rows, after=last))
            if rows:
                last = rows[-1]["id"]
                await _send(broker, wanting, rows)
        except asyncio.CancelledError:
            raise
        except Exception:  # the tail must outlive one bad read
            log.exception("stream: the log tail could not read the store")
        if len(rows) < BATCH:
            await asyncio.sleep(POLL_SECONDS)


async def _send(broker: StreamBroker, clients: list[Any], rows: list[dict[str, Any]]) -> None:
    groups = await broker.group_map()
    for client in clients:
        wanted = client.filter
        if wanted is None:
            continue
        floor = logs.LEVELS.get(wanted.log_level or "", 0)
        mine = [
            r
            for r in rows
            if r["id"] > client.log_from
            and wanted.wants_server(r["server_id"], groups.get(r["server_id"]))
            and logs.LEVELS.get(r["level"], 0) >= floor
        ]
        if mine:
            client.reply(messages.encode({"type": "log_lines", "lines": mine}))
            broker.messages_queued += 1
