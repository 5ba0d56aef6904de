"""One error shape for every 4xx/5xx: `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.errors import ApiError

__all__ = ["ApiError", "error_body", "error_response"]

log = logging.getLogger("fleetwatch.hub.api")


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message, exc.field), status_code=exc.status, headers=exc.headers
    )


def internal_error() -> JSONResponse:
    """The answer to an unexpected failure (logged by the caller): no detail leaves the hub."""
    return JSONResponse(error_body("internal", "internal error; see the hub log"), 500)


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "metrics", "disks", 0, "total")` -> `metrics.disks[0].total`."""
    out = ""
    for part in loc:
        if part in ("body", "query", "path", "header"):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        from fleetwatch.protocol.models import NO_NUL, NUL_MESSAGE

        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = field_path(first.get("loc", ()))
        context = first.get("ctx")
        nul = isinstance(context, dict) and context.get("pattern") == NO_NUL
        message = NUL_MESSAGE if nul else first.get("msg")
        return JSONResponse(
            error_body("invalid", f"{field or 'request'}: {message}", field or None),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return internal_error()
