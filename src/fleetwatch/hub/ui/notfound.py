"""Unknown paths: a JSON 404 for programs, the dashboard's "not found" page for browsers (26.6).

NiceGUI is mounted at `/` and answers every path no router matched with its HTML error page,
so `curl /metrics` or a scraper pointed at the wrong path got a 200-looking HTML document. The
hub's own 404 handler goes in front: a request that asks for HTML (a browser's `Accept`) outside
`/api/` still gets NiceGUI's page; everything else gets the API's error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from starlette.responses import Response

from fleetwatch.hub.api.errors import error_body
from fleetwatch.hub.api.responses import JSONResponse

Handler = Callable[[Request, Exception], Awaitable[Response]]


def wants_page(request: Request) -> bool:
    """A browser navigating to a dashboard-looking path (never an API path)."""
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return False
    return "text/html" in request.headers.get("accept", "")


def not_found_json(request: Request) -> JSONResponse:
    message = f"no such path: {request.method} {request.url.path}"
    return JSONResponse(error_body("not_found", message), status_code=404)


def install(nicegui_app: Any) -> None:
    """Put the hub's 404 handler in front of NiceGUI's (kept for browsers)."""
    original: Handler = nicegui_app.exception_handlers[404]

    async def handler(request: Request, exc: Exception) -> Response:
        if wants_page(request):
            return await original(request, exc)
        return not_found_json(request)

    nicegui_app.exception_handlers[404] = handler
