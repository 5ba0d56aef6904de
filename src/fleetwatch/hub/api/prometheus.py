"""Router: `GET /metrics` (H11), Prometheus text or OpenMetrics (by `Accept`), for any user's
API token (`Authorization: Bearer fwu_...`, viewer role or above) or dashboard session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from fleetwatch.hub.api.auth_dashboard import Principal, require_role
from fleetwatch.hub.context import HubContext, ctx_dependency
from fleetwatch.hub.services import prometheus

router = APIRouter(tags=["prometheus"])
Ctx = Annotated[HubContext, Depends(ctx_dependency)]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]


@router.get(
    "/metrics",
    summary="Prometheus scrape: the hub's figures and every online server's latest numbers",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def get_metrics(ctx: Ctx, _who: Viewer, request: Request) -> Response:
    gzip_ok = "gzip" in request.headers.get("accept-encoding", "")  # Prometheus always asks
    body, content_type = await prometheus.scrape(ctx, request.headers.get("accept"), gzip_ok)
    headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gzip_ok else None
    return Response(body, media_type=content_type, headers=headers)
