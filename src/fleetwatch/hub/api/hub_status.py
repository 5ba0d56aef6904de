"""Router: `GET /api/dashboard/hub` (H15), the hub process's self-monitoring: its latest
sample, 24 hours of them, and the memory trend (`services/selfmon.py`). Viewer role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fleetwatch.hub.api.auth_dashboard import Ctx, Viewer
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.services.selfmon import monitor_of

router = APIRouter(tags=["dashboard"])


@router.get(
    "/api/dashboard/hub",
    summary="The hub process watching itself: RSS, threads, files, connections, GC, trend",
)
async def get_hub_status(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    monitor = monitor_of(ctx)
    if monitor is None:
        raise ApiError(503, "unavailable", "self-monitoring has not started in this process")
    return monitor.view()
