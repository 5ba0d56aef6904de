"""Router: log rules (issue 22, B8), text or regex patterns that raise alerts from log lines.

- `GET /api/log-rules` (viewer), `GET /api/log-rules/{id}`;
- `POST /api/log-rules` (admin) `{"name", "kind": "text"|"regex", "pattern",
  "case_sensitive", "server_id", "app", "min_level", "alert_level": "WARNING"|"CRITICAL",
  "cooldown_seconds", "enabled"}` -> 201 the rule; `PATCH /api/log-rules/{id}` (admin,
  fields merged), `DELETE /api/log-rules/{id}` (admin); every change is audited;
- `POST /api/log-rules/dry-run` (viewer) `{...rule fields, "hours": 24}` or
  `{"rule": {...}, "hours"}` -> `{"matches", "would_fire", "notifications", "servers",
  "samples", "summary": "would have matched 37 times in 24 h (3 alerts fired)", ...}`.

A bad field (an invalid regex included) is 422 naming it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fleetwatch.hub.api.alerts import fields_checked
from fleetwatch.hub.api.auth_dashboard import Admin, Ctx, Viewer
from fleetwatch.hub.api.params import DbId, JsonObject
from fleetwatch.hub.services import logrules, logrules_dryrun

router = APIRouter(prefix="/api/log-rules", tags=["logs"])


@router.get("", summary="Log rules")
async def get_rules(ctx: Ctx, _who: Viewer) -> list[dict[str, Any]]:
    return await logrules.list_rules(ctx)


@router.post("", status_code=201, summary="Create a log rule")
async def post_rule(ctx: Ctx, who: Admin, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await logrules.save_rule(ctx, body, who.name)


@router.post("/dry-run", summary="Run a log rule over the stored lines (B8)")
async def post_dry_run(ctx: Ctx, _who: Viewer, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await logrules_dryrun.dry_run(ctx, body)


@router.get("/{rule_id}", summary="One log rule")
async def get_rule(ctx: Ctx, _who: Viewer, rule_id: DbId) -> dict[str, Any]:
    return await logrules.get_rule(ctx, rule_id)


@router.patch("/{rule_id}", summary="Change a log rule (fields merged)")
async def patch_rule(ctx: Ctx, who: Admin, rule_id: DbId, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await logrules.save_rule(ctx, body, who.name, rule_id)


@router.delete("/{rule_id}", summary="Delete a log rule")
async def delete_rule(ctx: Ctx, who: Admin, rule_id: DbId) -> dict[str, Any]:
    await logrules.delete_rule(ctx, rule_id, who.name)
    return {"success": True}
