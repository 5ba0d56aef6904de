"""Access to `/api/dashboard/*` (H8): a session cookie or a per-user API token, and a role.

Routers declare what they need with `Depends(require_role("viewer" | "operator" | "admin"))`
and receive the `Principal`. Without credentials the answer is 401, with too low a role 403,
both in the one error shape. Requests authenticated by cookie that change state must come from
the dashboard's own origin (Origin/Referer check; the cookie is also SameSite=Lax), so another
site cannot make a logged-in browser act. Bearer tokens are not sent by browsers on their own,
so they need no such check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.context import HubContext, ctx_dependency, get_ctx
from fleetwatch.hub.services import sessions, tokens
from fleetwatch.hub.services.passwords import ROLES
from fleetwatch.hub.services.users import Principal

__all__ = [
    "ENFORCE",
    "ROLES",
    "Admin",
    "Ctx",
    "Operator",
    "Principal",
    "Viewer",
    "principal_from_request",
    "require_role",
]

#: Always True in the hub. (False let requests without credentials through as an anonymous
#: admin while the hub was being built; kept as a switch for that history only.)
ENFORCE = True
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def same_origin(request: Request) -> bool:
    """True when the request's Origin (or Referer) names the host it was sent to."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return False
    netloc = urlsplit(source).netloc.lower()
    hosts = {request.headers.get("host", "").lower()}
    forwarded = request.headers.get("x-forwarded-host")
    if forwarded:
        hosts.add(forwarded.split(",")[0].strip().lower())
    return netloc in hosts


async def principal_from_request(request: Request) -> Principal | None:
    """The caller, from `Authorization: Bearer fwu_...` or the session cookie; None if neither.

    A bearer token that is wrong or revoked is an error (401), not an anonymous request.
    """
    ctx = get_ctx(request)
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        principal = await tokens.resolve_token(ctx, auth[7:].strip())
        if principal is None:
            raise ApiError(
                401,
                "unauthenticated",
                "unknown or revoked API token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return principal
    cookie = request.cookies.get(sessions.COOKIE_NAME)
    if not cookie:
        return None
    principal = await sessions.resolve_session(ctx, cookie)
    if principal is not None and request.method not in _SAFE_METHODS and not same_origin(request):
        raise ApiError(
            403, "csrf", "cross-site request refused: the Origin header must be this dashboard"
        )
    return principal


def require_role(role: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency admitting callers with at least `role`."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    async def dependency(request: Request) -> Principal:
        principal = await principal_from_request(request)
        if principal is None:
            if not ENFORCE:
                return Principal(name="anonymous", role="admin")
            raise ApiError(
                401,
                "unauthenticated",
                "log in, or send an API token as `Authorization: Bearer fwu_...`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.can(role):
            raise ApiError(
                403,
                "forbidden",
                f"this needs the {role} role; {principal.name} has the {principal.role} role",
            )
        return principal

    return dependency


#: annotated dependencies for handler signatures: `who: Viewer`, `ctx: Ctx`
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
Ctx = Annotated[HubContext, Depends(ctx_dependency)]
