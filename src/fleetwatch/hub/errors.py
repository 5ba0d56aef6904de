"""`ApiError`: an error a caller caused, with the HTTP status and code it answers with.

Services raise it as well as routers, so it lives below both (`api/errors.py` renders it and
re-exports it); it imports nothing of the web framework.
"""

from __future__ import annotations


class ApiError(Exception):
    """Raise from routers and services to answer with a clean JSON error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
