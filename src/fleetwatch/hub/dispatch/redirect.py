"""An ingest worker's answer to a dashboard request: "ask again, on a new connection".

A worker holds a connection because its first request was an agent's. A client that reuses such
a connection for the dashboard (a reverse proxy's pooled upstream connection, say) gets `307`
to the same URL with `Connection: close`; its next connection starts with that request and the
hub process, which renders the dashboard, serves it. API paths are answered by the worker
itself (it runs the whole API); only what the API does not know is redirected.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from fleetwatch.hub.api.errors import ApiError

#: paths the worker's API owns: an unknown one there is a real 404, not a dashboard page
API_PREFIXES = ("/api/", "/openapi.json", "/docs", "/redoc")


def install_redirect(app: FastAPI) -> None:
    """Add the catch-all route (after every API route, so it only sees the unmatched ones)."""

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def elsewhere(request: Request, path: str) -> Response:
        if request.url.path.startswith(API_PREFIXES):
            raise ApiError(404, "not_found", f"no such path: {request.url.path}")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Response(status_code=307, headers={"Location": target, "Connection": "close"})
