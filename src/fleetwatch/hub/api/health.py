"""Router: `GET /api/health` (issue 20): the explainable health score of the fleet, each group
and each server, worst first (`services/health.py`). Viewer role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fleetwatch.hub.api.auth_dashboard import Ctx, Viewer
from fleetwatch.hub.services import health

router = APIRouter(tags=["health"])


@router.get(
    "/api/health",
    summary="Health scores 0-100 (fleet, groups, servers) with the factors that cost points",
)
async def get_health(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    return await health.health(ctx)
