"""Router: `GET /api/dashboard/export?format=json|csv&hours=` (seed 001, H18), streamed; and
the periodic export's files: `GET/POST /api/dashboard/exports`, `GET /api/dashboard/exports/{name}`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, StreamingResponse

from fleetwatch.hub.api.auth_dashboard import Admin, Principal, Viewer, require_role
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.context import HubContext, ctx_dependency
from fleetwatch.hub.services import export_schedule
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


Ctx = Annotated[HubContext, Depends(ctx_dependency)]


@router.get("/exports", summary="The periodic export's files (newest first)")
async def list_export_files(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    folder = export_schedule.export_dir(ctx)
    files = await asyncio.to_thread(export_schedule.list_exports, folder)
    return {"folder": str(folder), "files": files}


@router.post("/exports", status_code=201, summary="Write a periodic export file now (and rotate)")
async def export_file_now(ctx: Ctx, who: Admin) -> dict[str, Any]:
    done = await export_schedule.export_now(ctx, who.name)
    return {**done, "message": f"Wrote {done['name']} ({done['size_bytes']} bytes)."}


@router.get(
    "/exports/{name}",
    summary="Download one periodic export file",
    response_class=FileResponse,
    responses={404: {"description": "No such export file"}},
)
async def download_export_file(
    ctx: Ctx,
    _who: Viewer,
    name: Annotated[str, Path(max_length=80, description="A name from GET /exports.")],
) -> FileResponse:
    path = export_schedule.export_dir(ctx) / name
    if not export_schedule.NAME_RE.match(name) or not path.is_file():
        raise ApiError(404, "not_found", f"no export file named {name!r}", "name")
    media = "application/gzip" if name.endswith(".gz") else "application/octet-stream"
    return FileResponse(path, media_type=media, filename=name)
