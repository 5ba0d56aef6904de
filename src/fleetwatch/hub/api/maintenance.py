"""Router: maintenance windows (one-off and weekly) that silence alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fleetwatch.hub.api.alerts import fields_checked
from fleetwatch.hub.api.auth_dashboard import Ctx, Operator, Viewer
from fleetwatch.hub.api.params import DbId, JsonObject
from fleetwatch.hub.services import alert_config

router = APIRouter(prefix="/api/dashboard", tags=["maintenance"])


@router.get("/maintenance", summary="Maintenance windows")
async def get_windows(ctx: Ctx, _who: Viewer) -> list[dict[str, Any]]:
    return await alert_config.list_windows(ctx)


@router.post("/maintenance", status_code=201, summary="Create a maintenance window")
async def post_window(ctx: Ctx, who: Operator, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await alert_config.save_window(ctx, body, who.name)


@router.patch("/maintenance/{window_id}", summary="Change a maintenance window")
async def patch_window(
    ctx: Ctx, who: Operator, window_id: DbId, body: JsonObject
) -> dict[str, Any]:
    with fields_checked():
        return await alert_config.save_window(ctx, body, who.name, window_id)


@router.delete("/maintenance/{window_id}", summary="Delete a maintenance window")
async def delete_window(ctx: Ctx, who: Operator, window_id: DbId) -> dict[str, Any]:
    await alert_config.delete_window(ctx, window_id, who.name)
    return {"success": True}
