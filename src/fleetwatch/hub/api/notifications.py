"""Router: in-app notifications (seed 001): unread list, mark one or all read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fleetwatch.hub.api.auth_dashboard import Ctx, Viewer
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.params import JsonObject
from fleetwatch.hub.services import alerts as service

router = APIRouter(prefix="/api/dashboard", tags=["notifications"])


@router.get("/notifications", summary="Unread notifications (newest first, at most 50)")
async def get_notifications(ctx: Ctx, _who: Viewer) -> list[dict[str, Any]]:
    return await service.unread_notifications(ctx)


@router.patch(
    "/notifications",
    summary='Mark read: {"notification_id": N} or {"mark_all": true}',
)
async def patch_notifications(ctx: Ctx, _who: Viewer, body: JsonObject) -> dict[str, Any]:
    mark_all = body.get("mark_all", False)
    if not isinstance(mark_all, bool):
        raise ApiError(422, "invalid", "mark_all: expected true or false", "mark_all")
    notification_id = body.get("notification_id")
    if not mark_all and (isinstance(notification_id, bool) or not isinstance(notification_id, int)):
        raise ApiError(
            422, "invalid", "notification_id: expected an integer id (or mark_all)",
            "notification_id",
        )  # fmt: skip
    changed = await service.mark_read(ctx, notification_id, mark_all)
    return {"success": True, "marked": changed}
