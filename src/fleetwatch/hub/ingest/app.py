"""The ingest hot path without the framework: `POST /api/metrics` and `POST /api/metrics/live`.

Agents post a snapshot every interval, thousands of hosts at once; for a ~5 KB snapshot the
ASGI layers (error, telemetry and body-limit middlewares, router matching across every
dashboard route, dependency solving) cost as much CPU as the validation and encoding itself.
`HubApp` is the hub's FastAPI application with one difference: its `__call__` sends those two
routes straight to their handlers in `ingest/routes.py`, before any middleware, and renders errors
exactly as the installed exception handlers do. Every other request goes through FastAPI as
usual, and the routes stay registered there (OpenAPI, and the same handlers answer when called
through the router).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from fleetwatch.hub.api.errors import ApiError, error_response, internal_error
from fleetwatch.hub.ingest import routes as ingest

log = logging.getLogger("fleetwatch.hub.api")

Handler = Callable[[Request], Awaitable[Response]]
ROUTES: dict[str, Handler] = {
    "/api/metrics": ingest.post_metrics,
    "/api/metrics/live": ingest.post_live,
}


class HubApp(FastAPI):
    """FastAPI, with the two ingest routes answered before the middleware stack."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST" or scope.get("root_path"):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # what Starlette sets, and what `get_ctx` reads
        try:
            response = await handler(Request(scope, receive))
        except ApiError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("unexpected error on %s", scope["path"])
            response = internal_error()
        await response(scope, receive, send)
