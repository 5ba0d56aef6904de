"""What the alert pages do besides plain CRUD, as Python calls into the hub (never HTTP to
itself): replay a rule over history (B4), send a test on a channel, test or use the mail
settings. The steps live in `services/alert_actions.py`, shared with the API routers; this
module adds the dashboard's wording (a missing alert engine is a message, not a 503)."""

from __future__ import annotations

from typing import Any

from fleetwatch.errors import DeliveryError
from fleetwatch.hub.api.errors import ApiError
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.mail.config import MailConfig
from fleetwatch.hub.mail.service import MailService
from fleetwatch.hub.services import alert_actions as actions

NOT_RUNNING = "the alert engine is not running in this hub"


async def dry_run(
    ctx: HubContext, rule: dict[str, Any], hours: float, server_id: str | None = None
) -> dict[str, Any]:
    """Replay `rule` over the last `hours` of history; raises `InvalidFieldError` (field)."""
    request = {"rule": rule, "hours": hours, "server_id": server_id}
    return await actions.dry_run(ctx, request)


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
    try:
        return await actions.send_channel_test(ctx, channel_id, actor)
    except ApiError as exc:
        if exc.code != "alerts_unavailable":
            raise
        return NOT_RUNNING


def mail_service(ctx: HubContext) -> MailService | None:
    found: MailService | None = ctx.extras.get("mail")
    return found


async def save_mail(ctx: HubContext, data: dict[str, Any], actor: str) -> MailConfig:
    """Validate and store the mail settings (masked secrets keep their value); audited."""
    mail = mail_service(ctx)
    if mail is None:
        raise DeliveryError(NOT_RUNNING)
    return await actions.save_mail(ctx, mail, data, actor)


async def test_mail(ctx: HubContext, to: list[str]) -> str | None:
    """Connection (and login) test, or with `to` a test email: the error text or None."""
    mail = mail_service(ctx)
    if mail is None:
        return NOT_RUNNING
    return await actions.send_mail_test(mail, to)
