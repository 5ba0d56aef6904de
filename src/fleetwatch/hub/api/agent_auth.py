"""Agent authentication for the ingest routes: `Authorization: Bearer <server_id>:<api_key>`.

Order of checks, cheapest first: a recently verified credential is accepted from memory; else
the caller's IP must still have failure budget (so a flood of bad keys costs no database work);
then the key is checked against its stored SHA-256. A failure spends one token of the IP's
budget. After authentication the server's own budget is charged (`ratelimit.py`).
"""

from __future__ import annotations

from starlette.requests import Request

from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.ratelimit import client_ip, limiter, too_many
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.services import keys

UNAUTHORIZED_MESSAGE = (
    "missing or invalid credentials: send 'Authorization: Bearer <server_id>:<api_key>' "
    "with the key given at registration"
)


def unauthorized() -> ApiError:
    return ApiError(
        401, "unauthorized", UNAUTHORIZED_MESSAGE, headers={"WWW-Authenticate": "Bearer"}
    )


async def authenticate(ctx: HubContext, request: Request) -> str:
    """The server id the request proves, with rate limits applied; raises ApiError 401/429."""
    authorization = request.headers.get("authorization")
    server_id = keys.cached_server(ctx, authorization) if authorization else None
    if server_id is None:
        ip = client_ip(ctx, request)
        ip_limiter = limiter(ctx, "ip")
        retry = ip_limiter.retry_after(ip)
        if retry:
            raise too_many(retry)
        server_id = await keys.verify(ctx, authorization) if authorization else None
        if server_id is None:
            ip_limiter.consume(ip)
            raise unauthorized()
    retry = limiter(ctx, "server").consume(server_id)
    if retry:
        raise too_many(retry)
    return server_id


def charge_failure(ctx: HubContext, request: Request) -> None:
    """Count a failed request (bad body, ...) against the caller's IP budget."""
    limiter(ctx, "ip").consume(client_ip(ctx, request))
