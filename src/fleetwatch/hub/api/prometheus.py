"""Router: `GET /metrics` (H11), Prometheus text or OpenMetrics (by `Accept`), and
`GET /api/grafana/summary` (seed 000's Grafana JSON), for any user's API token
(`Authorization: Bearer fwu_...`, viewer role or above) or dashboard session; `/metrics` also
without credentials from loopback when `metrics_open_on_loopback` is set."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from fleetwatch.hub import grafana
from fleetwatch.hub.api.auth_dashboard import Principal, require_role
from fleetwatch.hub.context import HubContext, ctx_dependency
from fleetwatch.hub.services import dashboard, prometheus

router = APIRouter(tags=["prometheus"])
Ctx = Annotated[HubContext, Depends(ctx_dependency)]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
_viewer = require_role("viewer")
_LOOPBACK = ("127.", "::1", "::ffff:127.")


async def scraper(request: Request) -> Principal:
    """A viewer, or, with `metrics_open_on_loopback`, anyone on this machine who sends no
    credentials (a local Prometheus): not a request a proxy forwarded (it would come from
    loopback for any client), nor one with a token (that one is checked)."""
    settings = request.app.state.ctx.settings
    host = request.client.host if request.client else ""
    forwarded = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    if (
        settings.metrics_open_on_loopback
        and host.startswith(_LOOPBACK)
        and not forwarded
        and "authorization" not in request.headers
    ):
        return Principal(name="loopback", role="viewer", via="loopback")
    return await _viewer(request)


Scraper = Annotated[Principal, Depends(scraper)]


@router.get(
    "/metrics",
    summary="Prometheus scrape: the hub's figures and every online server's latest numbers",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def get_metrics(ctx: Ctx, _who: Scraper, request: Request) -> Response:
    gzip_ok = "gzip" in request.headers.get("accept-encoding", "")  # Prometheus always asks
    body, content_type = await prometheus.scrape(ctx, request.headers.get("accept"), gzip_ok)
    headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gzip_ok else None
    return Response(body, media_type=content_type, headers=headers)


@router.get(
    "/api/grafana/summary",
    summary="Seed 000's Grafana JSON: the hub (system), each server's latest numbers, counts",
)
async def get_grafana_summary(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    from fleetwatch.hub.stream.broker import broker_of

    overview = await dashboard.overview(ctx)
    return grafana.summary(overview, len(broker_of(ctx).clients), ctx.started_at)
