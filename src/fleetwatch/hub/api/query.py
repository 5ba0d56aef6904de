"""Router: the dashboard's query and management API under `/api/dashboard` (seed 001, H3/H4).

Big read responses are serialised with orjson and returned directly (no response-model
validation on the hot path); their shapes are documented through `responses=` models in
`query_models.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import ValidationError

from fleetwatch.hub.api import query_models as m
from fleetwatch.hub.api.auth_dashboard import Principal, require_role
from fleetwatch.hub.api.errors import ApiError, field_path
from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.context import HubContext, ctx_dependency
from fleetwatch.hub.services import dashboard, live, live_demand, retention, servers
from fleetwatch.hub.services import settings as dash_settings
from fleetwatch.hub.services.history import MAX_HOURS
from fleetwatch.hub.store import tables

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])

Ctx = Annotated[HubContext, Depends(ctx_dependency)]
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
ServerId = Annotated[str, Path(max_length=64, description="The server's id (from registration).")]


def invalid(exc: ValidationError, prefix: str = "") -> ApiError:
    """The first pydantic error as a 422 naming the field."""
    first = exc.errors()[0]
    field = prefix + field_path(first.get("loc", ()))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return ApiError(422, "invalid", f"{field or 'body'}: {message}", field or None)


def not_found(server_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no server with id {server_id!r}", "id")


@contextmanager
def server_errors(server_id: str | None = None) -> Iterator[None]:
    """The servers service's errors in the one error shape: `InvalidField` -> 422 naming the
    field; with a `server_id`, `ServerNotFound` -> 404."""
    try:
        yield
    except servers.ServerNotFound:
        if server_id is None:
            raise
        raise not_found(server_id) from None
    except servers.InvalidField as exc:
        raise ApiError(422, "invalid", f"{exc.field}: {exc.message}", exc.field) from None


def _metric_list(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in tables.HOT_METRICS]
    if unknown:
        known = ", ".join(tables.HOT_METRICS)
        raise ApiError(
            422, "invalid", f"metrics: unknown {unknown[0]!r}; known: {known}", "metrics"
        )
    return names


@router.get(
    "",
    summary="Dashboard overview: summary counts, groups, every server with its latest numbers",
    responses={200: {"model": m.Overview}},
)
async def get_dashboard(ctx: Ctx, _who: Viewer) -> JSONResponse:
    return JSONResponse(await dashboard.overview(ctx))


@router.get(
    "/server/{server_id}",
    summary="One server: identity, latest snapshot, latest live sample and metric history",
    responses={200: {"model": m.ServerDetail}, 404: {"model": m.ErrorBody}},
)
async def get_server(
    ctx: Ctx,
    _who: Viewer,
    server_id: ServerId,
    hours: Annotated[
        float, Query(ge=1, le=MAX_HOURS, description="History range in hours (1-2160).")
    ] = 24,
    metrics: Annotated[
        str | None,
        Query(max_length=1000, description="Comma-separated hot metrics; default all."),
    ] = None,
) -> JSONResponse:
    detail = await dashboard.server_detail(ctx, server_id, hours, _metric_list(metrics))
    if detail is None:
        raise not_found(server_id)
    return JSONResponse(detail)


@router.get(
    "/server/{server_id}/live",
    summary="Live samples of the last minutes plus benchmark min/avg/max",
    responses={200: {"model": m.LiveData}, 404: {"model": m.ErrorBody}},
)
async def get_live(
    ctx: Ctx,
    _who: Viewer,
    server_id: ServerId,
    minutes: Annotated[
        float, Query(gt=0, le=live.MAX_MINUTES, description="Samples of the last N minutes.")
    ] = 5,
    benchmark: Annotated[
        float, Query(gt=0, le=live.MAX_MINUTES, description="Benchmark window in minutes.")
    ] = 30,
) -> JSONResponse:
    data = await ctx.db.read(functools.partial(live.read_live, server_id=server_id,
                             minutes=minutes, benchmark=benchmark))  # fmt: skip
    if data is None:
        raise not_found(server_id)
    return JSONResponse(data)


@router.post(
    "/server/{server_id}/live/watch",
    summary="Live on demand: ask the server's agent to send live samples every second for "
    "`seconds` (renew while watching)",
    responses={404: {"model": m.ErrorBody}},
)
async def watch_live(
    ctx: Ctx,
    _who: Viewer,
    server_id: ServerId,
    seconds: Annotated[
        float,
        Query(
            ge=live_demand.MIN_WATCH_SECONDS,
            le=live_demand.MAX_WATCH_SECONDS,
            description="How long from now (10-600 s).",
        ),
    ] = live_demand.WATCH_SECONDS,
) -> JSONResponse:
    until = await live_demand.watch(ctx, server_id, seconds)
    if until is None:
        raise not_found(server_id)
    return JSONResponse({"server_id": server_id, "live_until": until})


@router.patch(
    "/server/{server_id}",
    summary="Change a server's display name, group (and colour), notes, tags, thresholds, interval",
    response_model=m.ServerChange,
    responses={404: {"model": m.ErrorBody}, 422: {"model": m.ErrorBody}},
)
async def patch_server(
    ctx: Ctx, who: Operator, server_id: ServerId, body: servers.ServerUpdate
) -> dict[str, Any]:
    defaults = (await dash_settings.get_settings(ctx)).default_thresholds
    with server_errors(server_id):
        changed = await ctx.db.write(
            lambda conn: servers.apply_server_update(conn, server_id, body, defaults, who.name)
        )
    return {"id": server_id, "changed": changed}


@router.delete(
    "/server/{server_id}",
    summary="Delete a server and all its data (one transaction)",
    response_model=m.ServerDeleted,
    responses={404: {"model": m.ErrorBody}},
)
async def delete_server(ctx: Ctx, who: Admin, server_id: ServerId) -> dict[str, Any]:
    with server_errors(server_id):
        counts = await ctx.db.write(lambda conn: servers.delete_server(conn, server_id, who.name))
    servers.forget_server(ctx, server_id)
    return {"id": server_id, "deleted": counts, "message": "Server and all its data deleted."}


@router.get("/groups", summary="Server groups with colours and server counts")
async def get_groups(ctx: Ctx, _who: Viewer) -> list[m.Group]:
    rows = await ctx.db.read(servers.list_groups)
    return [m.Group(**row) for row in rows]


@router.patch(
    "/groups",
    summary="Create or recolour a group, or rename it (its servers follow)",
    response_model=m.GroupChange,
    responses={422: {"model": m.ErrorBody}},
)
async def patch_groups(ctx: Ctx, who: Operator, body: servers.GroupUpdate) -> dict[str, Any]:
    with server_errors():
        return await ctx.db.write(lambda conn: servers.update_group(conn, body, who.name))


@router.get("/settings", summary="Global dashboard settings")
async def get_settings(ctx: Ctx, _who: Viewer) -> dash_settings.DashboardSettings:
    return await dash_settings.get_settings(ctx, fresh=True)


@router.patch(
    "/settings",
    summary="Update global settings (any subset of the keys; `default_thresholds` merges)",
    responses={422: {"model": m.ErrorBody}},
)
async def patch_settings(
    ctx: Ctx,
    who: Admin,
    body: Annotated[
        dict[str, Any],
        Body(
            description="Any subset of the settings keys (see GET).",
            examples=[{"stale_threshold_minutes": 10, "default_thresholds": {"cpu_warning": 75}}],
        ),
    ],
) -> dash_settings.DashboardSettings:
    current = await dash_settings.get_settings(ctx, fresh=True)
    try:
        dash_settings.merge_update(current, body)
        return await dash_settings.update_settings(ctx, body, who.name)
    except ValidationError as exc:
        raise invalid(exc) from None


@router.delete(
    "/settings",
    summary="Run data cleanup now: delete everything past retention; counts per table",
    response_model=m.CleanupResult,
)
async def delete_settings(ctx: Ctx, who: Admin) -> dict[str, Any]:
    result = await retention.cleanup(ctx, actor=who.name, orphans=True)
    total = sum(result["deleted"].values())
    return {**result, "message": f"Cleanup finished: {total} rows deleted."}
