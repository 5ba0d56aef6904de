"""Router: notification channels (CRUD, test send) and mail settings / templates (H6, H7)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fleetwatch.hub.api.alerts import fields_checked
from fleetwatch.hub.api.auth_dashboard import Admin, Ctx, Viewer
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.api.params import DbId, JsonObject
from fleetwatch.hub.mail.config import TEMPLATE_TYPES
from fleetwatch.hub.services import alert_actions, alert_config
from fleetwatch.hub.services.alerts import runtime_of

router = APIRouter(prefix="/api/dashboard", tags=["channels"])


@router.get("/channels", summary="Notification channels with their statistics")
async def get_channels(ctx: Ctx, _who: Viewer) -> list[dict[str, Any]]:
    return await alert_config.list_channels(ctx)


@router.post("/channels", status_code=201, summary="Create a channel")
async def post_channel(ctx: Ctx, who: Admin, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await alert_config.save_channel(ctx, body, who.name)


@router.get("/channels/{channel_id}", summary="One channel")
async def get_channel(ctx: Ctx, _who: Viewer, channel_id: DbId) -> dict[str, Any]:
    return await alert_config.get_channel(ctx, channel_id)


@router.patch("/channels/{channel_id}", summary="Change a channel (fields merged)")
async def patch_channel(ctx: Ctx, who: Admin, channel_id: DbId, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        return await alert_config.save_channel(ctx, body, who.name, channel_id)


@router.delete("/channels/{channel_id}", summary="Delete a channel")
async def delete_channel(ctx: Ctx, who: Admin, channel_id: DbId) -> dict[str, Any]:
    await alert_config.delete_channel(ctx, channel_id, who.name)
    return {"success": True}


@router.post("/channels/{channel_id}/test", summary="Send a test notification now")
async def test_channel(ctx: Ctx, who: Admin, channel_id: DbId) -> dict[str, Any]:
    error = await alert_actions.send_channel_test(ctx, channel_id, who.name)
    return {"success": error is None, "error": error}


@router.get("/mail", summary="Mail settings (secrets masked)")
async def get_mail(ctx: Ctx, _who: Admin) -> dict[str, Any]:
    return (await runtime_of(ctx).mail.config()).public()


@router.put("/mail", summary="Replace the mail settings")
async def put_mail(ctx: Ctx, who: Admin, body: JsonObject) -> dict[str, Any]:
    with fields_checked():
        config = await alert_actions.save_mail(ctx, runtime_of(ctx).mail, body, who.name)
    return config.public()


@router.post("/mail/test", summary="Test the mail connection (and optionally send a test email)")
async def test_mail(ctx: Ctx, _who: Admin, body: JsonObject) -> dict[str, Any]:
    mail = runtime_of(ctx).mail
    to = body.get("to")
    if to and (not isinstance(to, list) or not all(isinstance(a, str) and "@" in a for a in to)):
        raise ApiError(422, "invalid", "to: expected a list of addresses", "to")
    error = await alert_actions.send_mail_test(mail, to or [])
    return {"success": error is None, "error": error}


@router.put("/mail/templates/{name}", summary="Override a template's subject/html/text")
async def put_template(ctx: Ctx, who: Admin, name: str, body: JsonObject) -> dict[str, Any]:
    if name not in TEMPLATE_TYPES:
        raise ApiError(404, "not_found", f"no template {name!r}")
    with fields_checked():
        await runtime_of(ctx).mail.save_template(name, body)
    return {"success": True}


@router.post("/mail/templates/{name}/preview", summary="Render a template with sample values")
async def preview_template(ctx: Ctx, _who: Admin, name: str, body: JsonObject) -> dict[str, Any]:
    if name not in TEMPLATE_TYPES:
        raise ApiError(404, "not_found", f"no template {name!r}")
    with fields_checked():
        store = await runtime_of(ctx).mail.template_store()
        rendered = store.render(name, body)
    return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}
