"""Router: `GET /api/dashboard/export?format=json|csv&hours=` (seed 001, H18), streamed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from fleetwatch.hub.api.auth_dashboard import Principal, require_role
from fleetwatch.hub.context import HubContext, ctx_dependency
from fleetwatch.hub.services.export import Export
from fleetwatch.hub.services.history import MAX_HOURS

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])

_DESCRIPTION = (
    "Every server's identity, latest numbers and metric history over the last `hours`. "
    "`csv` is a download (`Content-Disposition: attachment`): one row per server and time "
    "with avg/min/max per hot metric; text cells that a spreadsheet could evaluate are "
    "prefixed with `'`. `json`: `{exported_at, hours, resolution, columns, servers: [...]}`."
)


@router.get(
    "/export",
    summary="Export all servers' data as JSON or CSV (streamed)",
    description=_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The export",
            "content": {"application/json": {}, "text/csv": {}},
        }
    },
)
async def export(
    ctx: Annotated[HubContext, Depends(ctx_dependency)],
    _who: Annotated[Principal, Depends(require_role("viewer"))],
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
    hours: Annotated[float, Query(ge=1, le=MAX_HOURS, description="Range in hours.")] = 168,
    resolution: Annotated[
        Literal["auto", "raw", "1m", "1h"],
        Query(description="History tier; auto = finest tier that holds the whole range."),
    ] = "auto",
) -> StreamingResponse:
    run = Export(ctx, hours, resolution)
    await run.prepare()
    if format == "csv":
        return StreamingResponse(
            run.csv_chunks(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{run.filename("csv")}"'},
        )
    return StreamingResponse(
        run.json_chunks(),
        media_type="application/json",
        headers={"Content-Disposition": f'inline; filename="{run.filename("json")}"'},
    )
