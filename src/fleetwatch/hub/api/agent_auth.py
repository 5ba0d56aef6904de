"""Agent authentication for the ingest routes: `Authorization: Bearer <server_id>:<api_key>`.

A recently verified credential is accepted from memory; else the key is checked against its
stored SHA-256 (one primary-key read). A failure spends one token of the caller's IP budget and
is answered 401, or 429 once that budget is spent; good agents behind the same address are never
refused for it. After authentication the server's own budget is charged (`ratelimit.py`).
"""

from __future__ import annotations

from fleetwatch.hub.api.caller import Caller
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


async def identify(ctx: HubContext, request: Caller) -> str:
    """The server id the request's credentials prove, without spending the server's budget; a
    failure costs the caller's IP budget (raises ApiError 401, or 429 once it is spent)."""
    authorization = request.headers.get("authorization")
    server_id = keys.cached_server(ctx, authorization) if authorization else None
    if server_id is None:
        server_id = await keys.verify(ctx, authorization) if authorization else None
        if server_id is None:
            charge_failure(ctx, request)
            raise unauthorized()
    return server_id


async def authenticate(ctx: HubContext, request: Caller) -> str:
    """The server id the request proves, with rate limits applied; raises ApiError 401/429."""
    server_id = await identify(ctx, request)
    retry = limiter(ctx, "server").consume(server_id)
    if retry:
        raise too_many(retry)
    return server_id


def charge_failure(ctx: HubContext, request: Caller) -> None:
    """Count a failed request against the caller's IP budget; 429 once it is spent."""
    retry = limiter(ctx, "ip").consume(client_ip(ctx, request))
    if retry:
        raise too_many(retry)
