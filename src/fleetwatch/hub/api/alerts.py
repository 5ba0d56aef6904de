"""Router: alerts (seed 001 list + acknowledge, history) and alert rules (CRUD, dry run)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query

from fleetwatch.errors import InvalidFieldError
from fleetwatch.hub.api.auth_dashboard import Admin, Ctx, Operator, Viewer
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.params import DbId, JsonObject, Offset
from fleetwatch.hub.services import alert_actions, alert_config
from fleetwatch.hub.services import alerts as service

router = APIRouter(prefix="/api/dashboard", tags=["alerts"])
LEVELS = ("INFO", "WARNING", "CRITICAL")
STATES = ("firing", "acknowledged", "resolved", "open")


@contextmanager
def fields_checked() -> Iterator[None]:
    """`InvalidFieldError` -> 422 in the one error shape, naming the field."""
    try:
        yield
    except InvalidFieldError as exc:
        raise ApiError(422, "invalid", str(exc), exc.field) from None


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, "invalid", f"{name}: expected an integer id", name)
    return value


@router.get("/alerts", summary="Active (firing, unacknowledged) alerts")
async def get_alerts(ctx: Ctx, _who: Viewer, server_id: str | None = None) -> list[dict[str, Any]]:
    return await service.list_active(ctx, server_id)


@router.patch("/alerts", summary='Acknowledge an alert: {"alert_id": N}')
async def patch_alerts(ctx: Ctx, who: Operator, body: JsonObject) -> dict[str, Any]:
    alert_id = _int_field(body, "alert_id")
    return {"success": True, "alert": await service.acknowledge(ctx, alert_id, who.name)}


@router.get("/alerts/history", summary="Alert history with filters")
async def get_history(
    ctx: Ctx,
    _who: Viewer,
    server_id: str | None = None,
    level: Annotated[str | None, Query(description="INFO | WARNING | CRITICAL")] = None,
    state: Annotated[str | None, Query(description="firing|acknowledged|resolved|open")] = None,
    since: Annotated[float | None, Query(description="epoch seconds")] = None,
    until: Annotated[float | None, Query(description="epoch seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    if level is not None and level.upper() not in LEVELS:
        raise ApiError(422, "invalid", f"level: expected one of {', '.join(LEVELS)}", "level")
    if state is not None and state not in STATES:
        raise ApiError(422, "invalid", f"state: expected one of {', '.join(STATES)}", "state")
    return await service.history(
        ctx, server_id=server_id, level=level.upper() if level else None, state=state,
        since=since, until=until, limit=limit, offset=offset,
    )  # fmt: skip


@router.get("/alert-rules", summary="Alert rules")
async def get_rules(ctx: Ctx, _who: Viewer) -> list[dict[str, Any]]:
    return await alert_config.list_rules(ctx)


@router.post("/alert-rules", status_code=201, summary="Create an alert rule")
async def post_rule(ctx: Ctx, who: Admin, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await alert_config.save_rule(ctx, body, who.name)


@router.post("/alert-rules/dry-run", summary="Replay a rule over stored history (B4)")
async def post_dry_run(ctx: Ctx, _who: Viewer, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await alert_actions.dry_run(ctx, body)


@router.get("/alert-rules/{rule_id}", summary="One alert rule")
async def get_rule(ctx: Ctx, _who: Viewer, rule_id: DbId) -> dict[str, Any]:
    return await alert_config.get_rule(ctx, rule_id)


@router.patch("/alert-rules/{rule_id}", summary="Change an alert rule (fields merged)")
async def patch_rule(ctx: Ctx, who: Admin, rule_id: DbId, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await alert_config.save_rule(ctx, body, who.name, rule_id)


@router.delete("/alert-rules/{rule_id}", summary="Delete an alert rule")
async def delete_rule(ctx: Ctx, who: Admin, rule_id: DbId) -> dict[str, Any]:
    await alert_config.delete_rule(ctx, rule_id, who.name)
    return {"success": True}


@router.get("/server/{server_id}/forecast", summary="Disk-full forecast per mount (B5)")
async def get_forecast(ctx: Ctx, _who: Viewer, server_id: str) -> dict[str, Any]:
    return {"server_id": server_id, "disks": await service.disk_forecasts(ctx, server_id)}
