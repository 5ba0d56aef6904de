"""Router: managed processes (A14, issue 21.3), operator role: their states, output, and
start / stop / restart / kill / stdin input (`services/processes.py`).

- `GET /api/servers/{id}/processes` → `{"connected", "processes": [state, ...]}`;
- `GET /api/servers/{id}/processes/{name}?after=N` → its state and output lines after `N`;
- `POST /api/servers/{id}/processes/{name}/{start|stop|restart|kill}` → the agent's answer;
- `POST /api/servers/{id}/processes/{name}/input` `{"text": "say hello"}` → the same.

An answer within 5 s is 200 (`state` `done`, or `failed` with the agent's reason: 409 for an
action that does not apply, such as stopping a stopped process); later, 202 (`queued`/`sent`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from fleetwatch.hub.api.auth_dashboard import Ctx, Operator
from fleetwatch.hub.api.bodies import StrictBody
from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.services import processes

router = APIRouter(tags=["managed processes"])
ServerId = Annotated[str, Path(max_length=64)]
Name = Annotated[str, Path(max_length=64)]


class Input(StrictBody):
    text: str = Field(max_length=4096)


def _answer(result: dict[str, Any]) -> Response:
    status = {"done": 200, "failed": 409, "expired": 409, "lost": 409}.get(result["state"], 202)
    return JSONResponse(result, status_code=status)


@router.get("/api/servers/{server_id}/processes", summary="Managed processes and their state")
async def list_processes(ctx: Ctx, _who: Operator, server_id: ServerId) -> dict[str, Any]:
    return await processes.list_processes(ctx, server_id)


@router.get(
    "/api/servers/{server_id}/processes/{name}",
    summary="A managed process: state and output lines after `after`",
)
async def get_process(
    ctx: Ctx,
    _who: Operator,
    server_id: ServerId,
    name: Name,
    after: Annotated[int, Query(ge=0, le=1 << 31)] = 0,
) -> dict[str, Any]:
    return await processes.process_detail(ctx, server_id, name, after)


@router.post(
    "/api/servers/{server_id}/processes/{name}/input", summary="Send a line to the process's stdin"
)
async def send_input(
    ctx: Ctx, who: Operator, server_id: ServerId, name: Name, body: Input
) -> Response:
    return _answer(await processes.request(ctx, who.name, server_id, name, "input", body.text))


@router.post(
    "/api/servers/{server_id}/processes/{name}/{action}",
    summary="Start, stop, restart or kill a managed process",
)
async def act(
    ctx: Ctx,
    who: Operator,
    server_id: ServerId,
    name: Name,
    action: Literal["start", "stop", "restart", "kill"],
) -> Response:
    return _answer(await processes.request(ctx, who.name, server_id, name, action))
