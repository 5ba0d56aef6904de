"""What the alert pages do besides plain CRUD, as Python calls into the hub (never HTTP to
itself): replay a rule over history (B4), send a test on a channel, test or use the mail
settings. The same steps as the API routers in `api/alerts.py` and `api/channels.py`."""

from __future__ import annotations

import time
from typing import Any

from fleetwatch.errors import DeliveryError
from fleetwatch.hub.alerts.dryrun import dry_run_sync, parse_request
from fleetwatch.hub.alerts.state import AlertEvent, iso
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.mail.config import MailConfig
from fleetwatch.hub.mail.service import MailService
from fleetwatch.hub.services import alert_config
from fleetwatch.hub.services.alerts import RUNTIME_KEY, AlertsRuntime
from fleetwatch.hub.services.audit import audit

NOT_RUNNING = "the alert engine is not running in this hub"


def runtime(ctx: HubContext) -> AlertsRuntime | None:
    found: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    return found


async def dry_run(
    ctx: HubContext, rule: dict[str, Any], hours: float, server_id: str | None = None
) -> dict[str, Any]:
    """Replay `rule` over the last `hours` of history; raises `InvalidFieldError` (field)."""
    parsed, hours, server_id = parse_request({"rule": rule, "hours": hours, "server_id": server_id})
    rt = runtime(ctx)
    windows = rt.engine.windows if rt is not None else []
    now = time.time()
    result: dict[str, Any] = await ctx.db.read(
        lambda c: dry_run_sync(c, parsed, hours, server_id, windows, now)
    )
    return result


def dry_run_summary(result: dict[str, Any], hours: float) -> str:
    """ "This rule would have fired 14 times in the last 7 days (...)"."""
    span = f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"
    fired = int(result["fired"])
    levels = result["by_level"]
    times = "once" if fired == 1 else f"{fired} times"
    return (
        f"This rule would have fired {times} in the last {span}: {levels.get('WARNING', 0)} at"
        f" warning, {levels.get('CRITICAL', 0)} at critical (escalations included),"
        f" {result['notifications']} notifications · {result['servers_evaluated']} servers,"
        f" {result['samples']} samples replayed."
    )


async def test_channel(ctx: HubContext, channel_id: int, actor: str) -> str | None:
    """Send a test event on one channel now (filters bypassed): the error text or None."""
    await alert_config.get_channel(ctx, channel_id)
    rt = runtime(ctx)
    if rt is None:
        return NOT_RUNNING
    now = time.time()
    event = AlertEvent("test", {
        "id": None, "timestamp": iso(now), "component": "test", "metric": "test",
        "target": None, "value": None, "threshold": None, "level": "INFO",
        "message": f"Test notification from fleetwatch, sent by {actor}",
        "server_id": None, "server_name": "fleetwatch", "state": "test",
        "fired_at": now, "updated_at": now,
    })  # fmt: skip
    return await rt.notifier.test(channel_id, event)


def mail_service(ctx: HubContext) -> MailService | None:
    found: MailService | None = ctx.extras.get("mail")
    return found


async def save_mail(ctx: HubContext, data: dict[str, Any], actor: str) -> MailConfig:
    """Validate and store the mail settings (masked secrets keep their value); audited."""
    mail = mail_service(ctx)
    if mail is None:
        raise DeliveryError(NOT_RUNNING)
    config = await mail.save_config(data)
    await audit(ctx, actor, "mail.update", None, {"transport": config.transport})
    return config


async def test_mail(ctx: HubContext, to: list[str]) -> str | None:
    """Connection (and login) test, or with `to` a test email: the error text or None."""
    mail = mail_service(ctx)
    if mail is None:
        return NOT_RUNNING
    try:
        if to:
            variables = {"message": "fleetwatch mail test", "subject": "fleetwatch mail test"}
            await mail.send_template("custom", to, variables)
        else:
            await mail.test_connection()
    except DeliveryError as exc:
        return str(exc)
    return None
