"""Live command output over `/ws` (docs/api.md "WebSocket stream", `watch_command`).

`{"type": "watch_command", "id": ...}` answers `watching`, then every `command_output` chunk
(`id`, `seq`, `stream`, `data`) in order from the first, then one `command_exit`. The watch
reads the store (`commands.get` after the last seq it sent), so it follows a command whose
agent channel lives in another process or replica just as well as a local one.
`unwatch_command` stops it. Operators and admins only: output can hold secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fleetwatch.hub.context import HubContext
from fleetwatch.hub.errors import ApiError
from fleetwatch.hub.services import commands
from fleetwatch.hub.stream import messages
from fleetwatch.hub.stream.clients import StreamClient

POLL_SECONDS = 0.1
MAX_WATCHES = 8  # per client


def _exit(item: dict[str, Any]) -> str:
    return messages.encode(
        {
            "type": "command_exit",
            "id": item["id"],
            "state": item["state"],
            "exit_code": item["exit_code"],
            "message": item["message"],
            "truncated": bool(item["truncated"]),
        }
    )


async def _follow(ctx: HubContext, client: StreamClient, cid: str) -> None:
    after = 0
    try:
        while True:
            item = await commands.get(ctx, cid, after)
            for chunk in item["chunks"]:
                client.reply(messages.encode({"type": "command_output", "id": cid, **chunk}))
            after = item["next_after"]
            if item["done"]:
                client.reply(_exit(item))
                return
            await asyncio.sleep(POLL_SECONDS)
    except ApiError as exc:  # the command was deleted while watched
        client.reply(messages.error(exc.code, exc.message))
    finally:
        client.watches.pop(cid, None)


async def start(ctx: HubContext, client: StreamClient, message: dict[str, Any]) -> None:
    cid = message.get("id")
    if not isinstance(cid, str) or not cid or len(cid) > 64:
        client.reply(messages.error("invalid_format", "watch_command needs the command's id"))
        return
    if not client.principal.can("operator"):
        client.reply(messages.error("forbidden", "watching commands needs the operator role"))
        return
    if cid in client.watches:
        client.reply(messages.encode({"type": "watching", "id": cid}))
        return
    if len(client.watches) >= MAX_WATCHES:
        client.reply(messages.error("too_many_watches", f"at most {MAX_WATCHES} commands at once"))
        return
    try:
        await commands.get(ctx, cid)
    except ApiError as exc:
        client.reply(messages.error(exc.code, exc.message))
        return
    client.reply(messages.encode({"type": "watching", "id": cid}))
    client.watches[cid] = asyncio.create_task(_follow(ctx, client, cid))


async def stop(client: StreamClient, message: dict[str, Any]) -> None:
    cid = message.get("id")
    task = client.watches.pop(cid, None) if isinstance(cid, str) else None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    client.reply(messages.encode({"type": "unwatched", "id": cid}))


async def stop_all(client: StreamClient) -> None:
    tasks = list(client.watches.values())
    client.watches.clear()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
