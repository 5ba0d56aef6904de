"""NUL characters in a request's path or query string get a 422 before any route runs (26.9).

PostgreSQL refuses NUL in text, so `?server_id=a%00b` reached the database and came back as a
500; SQLite stored it. Every string parameter of every route is covered by this one check at the
boundary (bodies are checked by the models: `protocol/models.py`, `api/params.py`).
"""

from __future__ import annotations

from typing import Any

import orjson

from fleetwatch.hub.api.errors import error_body

Scope = dict[str, Any]


def has_nul(scope: Scope) -> str | None:
    """Which part of the request holds a NUL (`path`, `query`), or None."""
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query.lower():
        return "query"
    return None


class NulGuard:
    """ASGI middleware: refuse NUL in the path or the query string with the API's 422."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        where = has_nul(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps(
            error_body("invalid", f"{where}: must not contain NUL (\\u0000) characters", where)
        )
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 422, "headers": headers})
        await send({"type": "http.response.body", "body": body})
