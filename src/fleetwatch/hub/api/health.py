"""Router: the explainable health score (issue 20): `GET /api/health` (fleet, groups and
servers, worst first, each with the factors that cost points), `/api/health/history`,
`/api/health/summary` and `/api/health/export`. Viewer role (`services/health*.py`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from fleetwatch.hub.api.auth_dashboard import Ctx, Viewer
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.services import health, health_history, health_report
from fleetwatch.hub.store.tables_health import SCOPE_LENGTH

router = APIRouter(tags=["health"])

Scope = Annotated[
    str,
    Query(
        max_length=SCOPE_LENGTH,
        description="`fleet`, `group:<name>` or `server:<id>`",
    ),
]
Hours = Annotated[
    float, Query(gt=0, le=24 * 3650, description="How far back, in hours (default 24).")
]


@router.get(
    "/api/health",
    summary="Health scores 0-100 (fleet, groups, servers) with the factors that cost points",
)
async def get_health(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    return await health.health(ctx)


@router.get(
    "/api/health/history",
    summary="A scope's score (and mean CPU, memory, disk) per minute; hourly beyond a day",
)
async def get_history(ctx: Ctx, _who: Viewer, scope: Scope = "fleet",
                      hours: Hours = 24.0) -> dict[str, Any]:  # fmt: skip
    kind, _, name = scope.partition(":")
    if scope != "fleet" and (kind not in ("group", "server") or not name):
        raise ApiError(422, "invalid", "scope: expected fleet, group:<name> or server:<id>",
                       "scope")  # fmt: skip
    return await health_history.history(ctx, scope, hours)


@router.get(
    "/api/health/summary",
    summary="The fleet now (score, servers, alerts, resources, hub log counts) and 24 h trends",
)
async def get_summary(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    return await health_report.summary(ctx)


@router.get(
    "/api/health/export",
    summary="Scores, summary and the stored history of the fleet and groups, as a JSON file",
)
async def get_export(ctx: Ctx, _who: Viewer) -> Response:
    body = await health_report.export(ctx)
    stamp = int(body["exported_at"])
    return JSONResponse(
        body, headers={"Content-Disposition": f'attachment; filename="health-{stamp}.json"'}
    )
