"""Router: agent ingest (H1), the seed-001 paths and status codes.

`POST /api/register` 201, `POST /api/metrics` 200, `POST /api/metrics/live` 200,
`POST /api/ping` 200 (all but register need `Bearer <server_id>:<api_key>`), `GET /api/ping`
200 (health, no auth). Bodies are read raw (gzip allowed, size-bounded before and after
decoding) and validated with `Model.model_validate_json`: a typed FastAPI body parameter would
halve throughput. Snapshots and live samples try msgspec twins of the models first
(`decode.py`, several times cheaper); whatever those refuse is validated by pydantic exactly
as before, so pydantic alone decides errors and lax coercions. Every failure is a 4xx
`{"error": {"code", "message", "field"}}`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from fleetwatch import __version__
from fleetwatch.hub.api.agent_auth import authenticate, charge_failure, unauthorized
from fleetwatch.hub.api.bodies import decode_body, read_body, validation_error
from fleetwatch.hub.api.caller import Caller
from fleetwatch.hub.api.errors import ApiError, error_response
from fleetwatch.hub.api.ratelimit import client_ip, limiter, too_many
from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.context import HubContext, get_ctx
from fleetwatch.hub.events import SnapshotView
from fleetwatch.hub.ingest import service as ingest
from fleetwatch.hub.ingest.decode import LiveView, decode_live, decode_snapshots
from fleetwatch.hub.ingest.timewindow import BadTimestamp
from fleetwatch.hub.services import live_demand
from fleetwatch.hub.telemetry import Telemetry
from fleetwatch.protocol.models import LiveSample, Registration, Snapshot, SnapshotBatch

router = APIRouter(tags=["ingest"])

#: reads (and decodes) the request body when called
BodyReader = Callable[[], Awaitable[bytes]]

#: Wire models published under components/schemas (see `openapi_schemas`).
BODY_MODELS = (Snapshot, SnapshotBatch, LiveSample, Registration)


def _body(*models: str) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{m}"} for m in models]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def parse_snapshots(raw: bytes) -> tuple[Sequence[SnapshotView], bool]:
    """A single snapshot or a `{"snapshots": [...]}` batch -> (snapshots, is_batch).

    msgspec first; pydantic (the reference, and the source of every error) when it refuses."""
    fast = decode_snapshots(raw)
    if fast is not None:
        return fast
    try:
        return [Snapshot.model_validate_json(raw)], False
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        looks_batched = any(e["type"] == "missing" and e["loc"] == ("metrics",) for e in errors)
        if not looks_batched or b'"snapshots"' not in raw:
            raise validation_error(exc) from None
    try:
        return SnapshotBatch.model_validate_json(raw).snapshots, True
    except ValidationError as exc:
        raise validation_error(exc, batch=True) from None


def parse_live(raw: bytes) -> LiveView:
    """A live sample: msgspec first, pydantic when it refuses (as `parse_snapshots`)."""
    sample = decode_live(raw)
    if sample is not None:
        return sample
    try:
        return LiveSample.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


async def _guarded(ctx: HubContext, request: Caller, live: bool, body: BodyReader) -> JSONResponse:
    """Authenticate, read, validate and store one agent request; every refusal is counted
    by its error code (`fleetwatch_hub_ingest_rejected_total`)."""
    try:
        server_id = await authenticate(ctx, request)
        return await _store(ctx, request, server_id, live, body)
    except ApiError as exc:
        ctx.telemetry.count("rejected", exc.code)
        raise


async def _store(
    ctx: HubContext, request: Caller, server_id: str, live: bool, body: BodyReader
) -> JSONResponse:
    telemetry = ctx.telemetry
    try:
        raw = await body()
        started = time.perf_counter()
        if live:
            sample = parse_live(raw)
            watch_until = await ingest.ingest_live(ctx, server_id, sample)
            _counted(telemetry, "live", 1, started)
            return JSONResponse(live_demand.answer({"status": "ok"}, watch_until))
        snapshots, batch = parse_snapshots(raw)
        result = await ingest.ingest_snapshots(ctx, server_id, snapshots, batch)
    except BadTimestamp as exc:
        charge_failure(ctx, request)
        raise ApiError(422, "invalid", str(exc), exc.field) from None
    except ingest.ServerGone:
        raise unauthorized() from None
    except ApiError as exc:
        if exc.status < 500:
            charge_failure(ctx, request)
        raise
    _counted(telemetry, "snapshot", len(snapshots), started)
    answer = {"status": "ok", "stored": result.stored, "duplicates": result.duplicates}
    return JSONResponse(live_demand.answer(answer, result.watch_until))


def _counted(telemetry: Telemetry, kind: str, samples: int, started: float) -> None:
    telemetry.count("payloads", kind)
    telemetry.count("samples", kind, samples)
    telemetry.observe_write(kind, time.perf_counter() - started)


@router.post(
    "/api/metrics",
    summary="Submit a snapshot, or a batch {snapshots: [...]} (idempotent by snapshot_id)",
    openapi_extra=_body("Snapshot", "SnapshotBatch"),
)
async def post_metrics(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    return await _guarded(ctx, request, False, _streamed(ctx, request))


@router.post(
    "/api/metrics/live",
    summary="Submit a live (high-frequency) sample",
    openapi_extra=_body("LiveSample"),
)
async def post_live(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    return await _guarded(ctx, request, True, _streamed(ctx, request))


async def answer_write(ctx: HubContext, caller: Caller, body: bytes, live: bool) -> JSONResponse:
    """`post_metrics` (or `post_live`) for a request whose body was read already, by the lean
    HTTP protocol (`fasthttp.py`, which checked `Content-Length` against the limit); errors
    come back as their responses."""

    async def decoded() -> bytes:
        return decode_body(body, caller.headers, ctx.settings.max_body_bytes)

    try:
        return await _guarded(ctx, caller, live, decoded)
    except ApiError as exc:
        return error_response(exc)


def _streamed(ctx: HubContext, request: Request) -> BodyReader:
    return functools.partial(read_body, request, ctx.settings.max_body_bytes)


@router.post("/api/register", status_code=201, openapi_extra=_body("Registration"))
async def post_register(request: Request) -> JSONResponse:
    """Register a server; the answer holds its `api_key`, shown this once only."""
    ctx = get_ctx(request)
    retry = limiter(ctx, "ip").consume(client_ip(ctx, request))
    if retry:
        raise too_many(retry)
    raw = await read_body(request, ctx.settings.max_body_bytes)
    try:
        registration = Registration.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None
    server_id, api_key = await ingest.register(ctx, registration)
    return JSONResponse(
        {
            "server_id": server_id,
            "api_key": api_key,
            "message": "Server registered successfully. Store the api_key now: "
            "it is not shown again.",
        },
        status_code=201,
    )


@router.post(
    "/api/ping",
    summary="Agent heartbeat: updates the server's last-seen time; `live` asks for live samples "
    "while somebody watches (live on demand)",
)
async def post_ping(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    server_id = await authenticate(ctx, request)
    try:
        watch_until = await ingest.ping(ctx, server_id)
    except ingest.ServerGone:
        raise unauthorized() from None
    return JSONResponse(
        live_demand.answer({"status": "ok", "server_time": time.time()}, watch_until)
    )


@router.get("/api/ping", summary="Health check (no auth)")
async def get_ping(request: Request) -> JSONResponse:
    ctx = get_ctx(request)

    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "database": ctx.db.dialect,
        "uptime_seconds": round(time.time() - ctx.started_at, 3),
    }
    try:
        await ingest.probe_database(ctx)
    except Exception as exc:  # health must answer, whatever the database does
        body.update(status="error", detail=f"database unavailable: {type(exc).__name__}")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


def openapi_schemas() -> dict[str, Any]:
    """JSON Schemas of the ingest bodies, for components/schemas of the OpenAPI document."""
    out: dict[str, Any] = {}
    for model in BODY_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out
