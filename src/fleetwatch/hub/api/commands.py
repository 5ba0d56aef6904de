"""Router: remote commands (A13, issue 21.2). Operator role runs allow-listed programs; a
`shell` script needs an admin. Every call and every end is audited (`services/commands.py`).

- `POST /api/servers/{id}/commands` `{"argv": [...]}` or `{"shell": "..."}`, `timeout_seconds`,
  `env` → 201 `{"id", "state": "queued"}`;
- `GET /api/commands/{id}?after=N` → state, exit code, output (chunks after `N`);
- `GET /api/servers/{id}/commands` → the server's last 50 commands;
- `POST /api/commands/{id}/cancel` → kill it (its process group) on the agent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field, model_validator

from fleetwatch.hub.api.auth_dashboard import Ctx, Operator, Viewer
from fleetwatch.hub.api.bodies import StrictBody
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.control import links_of
from fleetwatch.hub.services import commands
from fleetwatch.protocol.control import encode

router = APIRouter(tags=["remote commands"])
ServerId = Annotated[str, Path(max_length=64, description="Server id")]
CommandId = Annotated[str, Path(max_length=64, description="Command id")]
Arg = Annotated[str, Field(max_length=4096)]


class CommandRequest(StrictBody):
    argv: list[Arg] | None = Field(default=None, min_length=1, max_length=256)
    shell: str | None = Field(default=None, min_length=1, max_length=65536)
    timeout_seconds: float = Field(default=60.0, gt=0, le=86400)
    env: dict[
        Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^=]+$")],
        Annotated[str, Field(max_length=4096)],
    ] = Field(default_factory=dict, max_length=64)

    @model_validator(mode="after")
    def _one_of(self) -> CommandRequest:
        if (self.argv is None) == (self.shell is None):
            raise ValueError("give exactly one of argv (a list) or shell (a string)")
        return self


@router.post(
    "/api/servers/{server_id}/commands",
    status_code=201,
    summary="Run a command on the server's agent (operator; shell: admin)",
)
async def run_command(
    ctx: Ctx, who: Operator, server_id: ServerId, body: CommandRequest
) -> dict[str, Any]:
    if body.shell is not None and not who.can("admin"):
        raise ApiError(403, "forbidden", "shell commands need the admin role", "shell")
    return await commands.create(
        ctx, who.name, server_id, body.argv, body.shell, body.timeout_seconds, body.env
    )


@router.get("/api/commands/{command_id}", summary="A command's state, exit code and output")
async def get_command(
    ctx: Ctx,
    _who: Operator,
    command_id: CommandId,
    after: Annotated[int, Query(ge=0, le=1 << 31)] = 0,
) -> dict[str, Any]:
    return await commands.get(ctx, command_id, after)


@router.get("/api/servers/{server_id}/commands", summary="The server's last 50 commands")
async def list_commands(ctx: Ctx, _who: Operator, server_id: ServerId) -> dict[str, Any]:
    return {"commands": await commands.for_server(ctx, server_id)}


@router.get("/api/servers/{server_id}/control", summary="Is the agent's control channel up?")
async def control_status(ctx: Ctx, _who: Viewer, server_id: ServerId) -> dict[str, Any]:
    return await commands.control_status(ctx, server_id)


@router.post("/api/commands/{command_id}/cancel", summary="Kill a running command")
async def cancel_command(ctx: Ctx, who: Operator, command_id: CommandId) -> dict[str, Any]:
    item = await commands.get(ctx, command_id)
    if item["done"]:
        raise ApiError(409, "finished", f"the command already ended ({item['state']})")
    sent = await links_of(ctx).send(item["server_id"], encode("cancel", id=command_id))
    if not sent:
        raise ApiError(
            409,
            "agent_offline",
            "the agent's control channel is not held by this "
            "hub process or is down; the command ends when the agent reports",
        )
    from fleetwatch.hub.services.audit import audit

    await audit(ctx, who.name, "command.cancel", item["server_id"], {"command_id": command_id})
    return {"id": command_id, "state": item["state"], "cancel": "sent"}
