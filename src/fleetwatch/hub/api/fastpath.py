"""The ingest hot path without the framework: `POST /api/metrics` and `POST /api/metrics/live`.

Agents post a snapshot every interval, thousands of hosts at once; for a ~5 KB snapshot the
ASGI layers (exception, body-limit and exit-stack middlewares, router matching across every
dashboard route, dependency solving) cost as much CPU as the validation and encoding itself.
`IngestFastPath` is a plain ASGI middleware, installed outermost, that sends those two routes
straight to their handlers in `api/ingest.py`; it renders errors exactly as the installed
exception handlers do. Every other request goes through FastAPI as before, and the routes stay
registered there (OpenAPI, and the same handlers answer if the middleware is absent).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from fleetwatch.hub.api import ingest
from fleetwatch.hub.api.errors import ApiError, error_body, error_response
from fleetwatch.hub.api.responses import JSONResponse

log = logging.getLogger("fleetwatch.hub.api")

Handler = Callable[[Request], Awaitable[Response]]
ROUTES: dict[str, Handler] = {
    "/api/metrics": ingest.post_metrics,
    "/api/metrics/live": ingest.post_live,
}


class IngestFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            response = await handler(Request(scope, receive))
        except ApiError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("unexpected error on %s", scope["path"])
            response = JSONResponse(error_body("internal", "internal error; see the hub log"), 500)
        await response(scope, receive, send)
