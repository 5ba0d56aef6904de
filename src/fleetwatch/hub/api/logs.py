"""Router: the log store (issue 22, H17).

- `POST /api/logs` (agent key, `Bearer <server_id>:<api_key>`, gzip allowed)
  `{"batch_id", "lines": [{"ts", "app", "source", "level", "message"}]}` → 200
  `{"status": "ok", "stored": N, "duplicate": false}`; a batch id stored before answers
  `"duplicate": true` and stores nothing. A host beyond `logs_lines_per_minute` gets 429 with
  `Retry-After` (other hosts are not affected). Stored lines go through the log rules
  (`services/logrules.py`) before the answer.
- `GET /api/logs?server=&app=&level=&q=&since=&until=&before=&after=&limit=` (viewer) →
  newest first `{"logs": [...], "next_before"}` (`after`: only ids above, for a live tail);
  `q` is full text (`services/logsearch.py`), a query the store cannot run is 400
  `invalid_query`.
- `GET /api/logs/apps?server=` → the app names stored.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request

from fleetwatch.hub.api.agent_auth import identify
from fleetwatch.hub.api.auth_dashboard import Ctx, Viewer
from fleetwatch.hub.api.bodies import read_body
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.ratelimit import RateLimiter, too_many
from fleetwatch.hub.api.responses import JSONResponse
from fleetwatch.hub.context import HubContext, get_ctx
from fleetwatch.hub.ingest.timewindow import BadTimestamp, parse_time
from fleetwatch.hub.services import logrules, logs
from fleetwatch.hub.services.logsearch import QueryError

router = APIRouter(tags=["logs"])
MAX_LINES = 5000
Level = logs.Level


class WireBatch(msgspec.Struct, forbid_unknown_fields=True):
    batch_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    lines: Annotated[list[logs.Line], msgspec.Meta(max_length=MAX_LINES)]


_decoder = msgspec.json.Decoder(WireBatch)
_LINE = {
    "type": "object",
    "required": ["ts", "app", "source", "level", "message"],
    "properties": {
        "ts": {"type": "number"},
        "app": {"type": "string", "maxLength": 128},
        "source": {"type": "string", "maxLength": 512},
        "level": {"enum": list(logs.LEVELS)},
        "message": {"type": "string"},
    },
}
_SCHEMA = {
    "type": "object",
    "required": ["batch_id", "lines"],
    "properties": {
        "batch_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "lines": {"type": "array", "maxItems": MAX_LINES, "items": _LINE},
    },
}


def _clean(text: str) -> str:
    """Text PostgreSQL keeps: no NUL (lone surrogates never get here: msgspec refuses them)."""
    return text.replace("\x00", "") if "\x00" in text else text


def parse_batch(raw: bytes) -> tuple[str, list[logs.Line]]:
    """The batch id and lines of a `POST /api/logs` body (ApiError 400/422 naming the field)."""
    try:
        batch = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid", f"invalid log batch: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None
    if b"\\u0000" not in raw:  # no NUL anywhere: nothing to clean
        return batch.batch_id, batch.lines
    lines = [
        msgspec.structs.replace(
            ln, app=_clean(ln.app), source=_clean(ln.source), message=_clean(ln.message)
        )
        for ln in batch.lines
    ]
    return _clean(batch.batch_id), lines


def _lines_limiter(ctx: HubContext) -> RateLimiter:
    found = ctx.extras.get("ratelimit.log_lines")
    if found is None:
        found = ctx.extras["ratelimit.log_lines"] = RateLimiter(ctx.settings.logs_lines_per_minute)
    assert isinstance(found, RateLimiter)
    return found


@router.post(
    "/api/logs",
    summary="Agent: ship a batch of log lines (idempotent by batch_id)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _SCHEMA}}}
    },
)
async def post_logs(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    server_id = await identify(ctx, request)
    raw = await read_body(request, ctx.settings.max_body_bytes)
    batch_id, lines = parse_batch(raw)
    retry = _lines_limiter(ctx).consume(server_id, max(1, len(lines)))
    if retry:
        ctx.telemetry.count("rejected", "log_rate_limited")
        raise too_many(retry)
    now = time.time()
    stored = await ctx.db.write(
        lambda conn: logs.store_batch(conn, server_id, batch_id, lines, now)
    )
    ctx.telemetry.count("samples", "log", stored)
    if stored:
        await logrules.on_lines(ctx, server_id, lines)
    duplicate = stored == 0 and bool(lines)
    return JSONResponse({"status": "ok", "stored": stored, "duplicate": duplicate})


def _time(value: str | None, field: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parse_time(value, field, 0.0)
    except BadTimestamp as exc:
        raise ApiError(
            400,
            "invalid_time",
            f"{field}: {value[:64]!r} is not epoch seconds or an ISO 8601 time",
            field,
        ) from exc


Text = Annotated[str | None, Query(max_length=512)]


@router.get("/api/logs", summary="Search stored log lines, newest first (viewer)")
async def get_logs(
    ctx: Ctx,
    _who: Viewer,
    server: Annotated[str | None, Query(max_length=64, description="server id")] = None,
    app: Annotated[str | None, Query(max_length=128)] = None,
    level: Annotated[Level | None, Query(description="this level and above")] = None,
    q: Text = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="ids below")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="ids above")] = None,
    limit: Annotated[int, Query(ge=1, le=logs.MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    query = logs.LogQuery(
        server_id=server or None,
        app=app or None,
        level=level,
        q=q or None,
        since=_time(since, "since"),
        until=_time(until, "until"),
        before=before,
        after=after,
        limit=limit,
    )
    try:
        return await logs.search(ctx, query)
    except QueryError as exc:
        raise ApiError(400, "invalid_query", str(exc), "q") from None


@router.get("/api/logs/apps", summary="The app names in the log store (viewer)")
async def get_apps(
    ctx: Ctx, _who: Viewer, server: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    return {"apps": await logs.apps(ctx, server or None)}
