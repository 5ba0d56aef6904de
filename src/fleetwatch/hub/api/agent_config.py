"""Router: remote agent configuration (A9; seed 001's `/api/config/{server_id}` poll).

Dashboard side (user auth):
- `GET /api/dashboard/server/{id}/config` — the pending change and the history;
- `POST /api/dashboard/server/{id}/config` — push keys (body: `{"key": value, ...}`, or the seed
  dashboard's wrapped form `{"config": {"key": value, ...}}`), validated against the agent's
  schema: 422 naming the key when wrong or not pushable.

Agent side (`Bearer <server_id>:<api_key>`, a key reads and confirms only its own server):
- `GET /api/config/{id}` — `{"has_update": bool, "config": {...} | null, "config_id": int | null}`;
- `POST /api/config/{id}` — `{"config_id": int | null, "applied": bool, "error": str | null}`.

The agent endpoints check the key (a failure costs the caller's IP budget like any ingest
failure) but do not spend the server's ingest budget: one poll per cycle must never crowd out
the snapshots.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from fleetwatch.errors import ConfigError
from fleetwatch.hub.api.agent_auth import identify
from fleetwatch.hub.api.auth_dashboard import Principal, require_role
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.query import not_found, server_errors
from fleetwatch.hub.context import HubContext, ctx_dependency
from fleetwatch.hub.services import agent_config
from fleetwatch.hub.services.servers import ServerNotFound

router = APIRouter(tags=["agent configuration"])

Ctx = Annotated[HubContext, Depends(ctx_dependency)]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
ServerId = Annotated[str, Path(max_length=64, description="The server's id (from registration).")]


class ConfigAck(BaseModel):
    """The agent's confirmation of a pending change."""

    model_config = ConfigDict(extra="ignore")

    config_id: int | None = None
    applied: bool = True
    error: Annotated[str, Field(max_length=4000)] | None = None


def unwrap_config(body: dict[str, Any]) -> dict[str, Any]:
    """The keys to push: the bare body, or the seed dashboard's `{"config": {...}}` wrapper."""
    if set(body) != {"config"}:
        return body
    inner = body["config"]
    if not isinstance(inner, dict):
        raise ApiError(422, "invalid", "config: must be an object of configuration keys", "config")
    return inner


async def _agent(ctx: HubContext, request: Request, server_id: str) -> None:
    """Authenticate the agent and check that it asks about itself."""
    if await identify(ctx, request) != server_id:
        raise ApiError(403, "forbidden", "an agent may read and confirm only its own configuration")


@router.get("/api/dashboard/server/{server_id}/config", summary="Pending agent config and history")
async def get_server_config(ctx: Ctx, _who: Viewer, server_id: ServerId) -> dict[str, Any]:
    with server_errors(server_id):
        result: dict[str, Any] = await ctx.db.read(lambda conn: agent_config.view(conn, server_id))
    return result


@router.post(
    "/api/dashboard/server/{server_id}/config",
    status_code=201,
    summary="Push configuration keys to an agent (applied at its next cycle)",
)
async def push_server_config(
    ctx: Ctx,
    who: Operator,
    server_id: ServerId,
    body: Annotated[dict[str, Any], Body(description="Agent config keys to change.")],
) -> dict[str, Any]:
    keys = unwrap_config(body)
    if not keys:
        raise ApiError(422, "invalid", "body: give at least one configuration key", None)
    try:
        result: dict[str, Any] = await ctx.db.write(
            lambda conn: agent_config.push(conn, server_id, keys, who.name)
        )
    except ConfigError as exc:
        raise ApiError(422, "invalid", str(exc), exc.key or None) from None
    except ServerNotFound:
        raise not_found(server_id) from None
    from fleetwatch.hub.control import links_of
    from fleetwatch.protocol.control import encode

    told = await links_of(ctx).send(server_id, encode("config"))
    result["message"] = (
        "Saved; the agent was told over its control channel and applies it now."
        if told
        else "Saved; the agent applies it at its next cycle."
    )
    return result


@router.get("/api/config/{server_id}", summary="Agent: is there configuration to apply?")
async def agent_poll(ctx: Ctx, request: Request, server_id: ServerId) -> dict[str, Any]:
    await _agent(ctx, request, server_id)
    answer: dict[str, Any] = await ctx.db.read(lambda conn: agent_config.pending(conn, server_id))
    return answer


@router.post("/api/config/{server_id}", summary="Agent: confirm (or refuse) the pending change")
async def agent_confirm(
    ctx: Ctx, request: Request, server_id: ServerId, body: ConfigAck
) -> dict[str, Any]:
    await _agent(ctx, request, server_id)
    closed = await ctx.db.write(
        lambda conn: agent_config.confirm(conn, server_id, body.config_id, body.applied, body.error)
    )
    return {"status": "ok", "confirmed": closed}
