"""The hub's end of the agent control channel (issue 21): `GET /api/agent/ws` (`endpoint.py`)
and what travels on it (`dispatch.py`).

Each hub process keeps the channels its agents opened in one `Links` registry (`links_of`):
server id → the open WebSocket. Every process also records its links in the `agent_links`
table (refreshed every `LINK_REFRESH_SECONDS`), so any process or replica can tell whether a
server's agent is reachable and what its `hello` allowed, and the process holding a link sends
that server's queued commands (`dispatch.Dispatcher`, woken at once by `kick` for commands
made in this process, every `POLL_SECONDS` for those made elsewhere).
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from typing import Any, Protocol

from fleetwatch.hub.context import HubContext

KEY = "control.links"
LINK_REFRESH_SECONDS = 30.0
POLL_SECONDS = 0.5


class Socket(Protocol):
    async def send_text(self, data: str) -> None: ...


@dataclass
class Link:
    server_id: str
    socket: Socket
    hello: dict[str, Any]
    connected_at: float
    sent: int = 0
    received: int = 0


@dataclass
class Links:
    """This process's open control channels."""

    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    by_server: dict[str, Link] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    #: process requests answered here: request id → the future its caller awaits
    waiters: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    def answered(self, request_id: str, message: dict[str, Any]) -> None:
        future = self.waiters.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(message)

    def kick(self) -> None:
        """A command was queued here: let the dispatcher look now."""
        self.wake.set()

    async def send(self, server_id: str, text: str) -> bool:
        """Send `text` to the server's agent if its channel is open here; False otherwise."""
        link = self.by_server.get(server_id)
        if link is None:
            return False
        try:
            await link.socket.send_text(text)
        except Exception:  # the socket closed meanwhile: the endpoint drops the link
            return False
        link.sent += 1
        return True


def links_of(ctx: HubContext) -> Links:
    links: Links | None = ctx.extras.get(KEY)
    if links is None:
        links = ctx.extras[KEY] = Links()
    return links
