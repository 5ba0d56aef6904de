"""Router: scheduled messages (H16), operator role (`services/schedules.py`).

- `POST /api/servers/{id}/schedules` `{"at": epoch | "cron": "*/5 * * * *", "input":
  {"process", "text"} | "process": {"process", "action"} | "command": {"argv"}, "label"}`;
- `POST /api/servers/{id}/processes/{name}/scheduled-restart` `{"at", "warnings": [600, 300,
  60], "message": "Restart in {minutes} min"}`: the warnings, then the restart, as one group;
- `GET /api/servers/{id}/schedules`; `DELETE /api/schedules/{id}` cancels it (or its group).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field, model_validator

from fleetwatch.hub.api.auth_dashboard import Ctx, Operator
from fleetwatch.hub.api.bodies import StrictBody
from fleetwatch.hub.services import schedules

router = APIRouter(tags=["scheduled messages"])
ServerId = Annotated[str, Path(max_length=64)]
ProcessName = Annotated[str, Field(min_length=1, max_length=64)]
When = Annotated[float, Field(gt=0, le=4102444800)]  # before 2100


class InputStep(StrictBody):
    process: ProcessName
    text: str = Field(max_length=4096)


class ProcessStep(StrictBody):
    process: ProcessName
    action: Literal["start", "stop", "restart", "kill"]


class CommandStep(StrictBody):
    argv: list[Annotated[str, Field(max_length=4096)]] = Field(min_length=1, max_length=256)


class ScheduleRequest(StrictBody):
    label: str = Field(default="", max_length=255)
    at: When | None = None
    cron: str | None = Field(default=None, max_length=128)
    input: InputStep | None = None
    process: ProcessStep | None = None
    command: CommandStep | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ScheduleRequest:
        if (self.at is None) == (self.cron is None):
            raise ValueError("give exactly one of at (epoch seconds) or cron")
        if sum(x is not None for x in (self.input, self.process, self.command)) != 1:
            raise ValueError("give exactly one of input, process or command")
        return self

    def spec(self) -> dict[str, Any]:
        base: dict[str, Any] = {"label": self.label, "at": self.at, "cron": self.cron}
        if self.input is not None:
            return {**base, "kind": "input", "process": self.input.process, "text": self.input.text}
        if self.process is not None:
            return {
                **base,
                "kind": "process",
                "process": self.process.process,
                "text": self.process.action,
            }
        assert self.command is not None
        return {**base, "kind": "command", "argv": self.command.argv}


class RestartPlan(StrictBody):
    at: When
    warnings: list[Annotated[float, Field(gt=0, le=86400)]] = Field(
        default_factory=lambda: [600.0, 300.0, 60.0], max_length=20
    )
    message: str = Field(default="The server restarts in {minutes} min", max_length=4096)


@router.post(
    "/api/servers/{server_id}/schedules",
    status_code=201,
    summary="Schedule a stdin line, a process action or a command (at or cron)",
)
async def create_schedule(
    ctx: Ctx, who: Operator, server_id: ServerId, body: ScheduleRequest
) -> dict[str, Any]:
    return await schedules.create(ctx, who.name, server_id, body.spec())


@router.post(
    "/api/servers/{server_id}/processes/{name}/scheduled-restart",
    status_code=201,
    summary="Warn on the process's stdin at T-10, T-5, T-1 min, then restart it",
)
async def scheduled_restart(
    ctx: Ctx,
    who: Operator,
    server_id: ServerId,
    name: Annotated[str, Path(max_length=64)],
    body: RestartPlan,
) -> dict[str, Any]:
    return await schedules.warn_then_restart(
        ctx, who.name, server_id, name, body.at, body.warnings, body.message
    )


@router.get("/api/servers/{server_id}/schedules", summary="The server's schedules")
async def list_schedules(ctx: Ctx, _who: Operator, server_id: ServerId) -> dict[str, Any]:
    return {"schedules": await schedules.for_server(ctx, server_id)}


@router.delete("/api/schedules/{schedule_id}", summary="Cancel a schedule (or its group)")
async def cancel_schedule(
    ctx: Ctx, who: Operator, schedule_id: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    return await schedules.cancel(ctx, who.name, schedule_id)
