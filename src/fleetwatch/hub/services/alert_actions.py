"""Alert actions besides plain CRUD, one implementation for the API routers (`api/alerts.py`,
`api/channels.py`) and the dashboard (`ui/alert_actions.py`): replay a rule over stored history
(B4), send a test notification on a channel, save and test the mail settings.

Each caller reports a missing alert engine its own way (the API: 503, the dashboard: a message),
so the functions here take what they need (a runtime, a mail service) or raise the service error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fleetwatch.errors import DeliveryError
from fleetwatch.hub.alerts.dryrun import dry_run_sync, parse_request
from fleetwatch.hub.alerts.state import AlertEvent, iso
from fleetwatch.hub.context import HubContext
from fleetwatch.hub.mail.config import MailConfig
from fleetwatch.hub.mail.service import MailService
from fleetwatch.hub.services import alert_config
from fleetwatch.hub.services.alerts import RUNTIME_KEY, AlertsRuntime, runtime_of
from fleetwatch.hub.services.audit import audit

MAIL_TEST_VARIABLES = {"message": "fleetwatch mail test", "subject": "fleetwatch mail test"}


def running_runtime(ctx: HubContext) -> AlertsRuntime | None:
    """The alert engine's runtime, or None when it does not run in this hub."""
    found: AlertsRuntime | None = ctx.extras.get(RUNTIME_KEY)
    return found


async def dry_run(ctx: HubContext, request: Mapping[str, Any]) -> dict[str, Any]:
    """Replay `request["rule"]` over the last `request["hours"]` of history (one server with
    `server_id`); raises `InvalidFieldError` naming the field of a bad request. Maintenance
    windows of a running engine are honoured."""
    rule, hours, server_id = parse_request(request)
    rt = running_runtime(ctx)
    windows = rt.engine.windows if rt is not None else []
    now = time.time()
    result: dict[str, Any] = await ctx.db.read(
        lambda c: dry_run_sync(c, rule, hours, server_id, windows, now)
    )
    return result


def channel_test_event(actor: str, now: float) -> AlertEvent:
    """The event a channel test sends (level INFO, no server), naming who asked for it."""
    return AlertEvent("test", {
        "id": None, "timestamp": iso(now), "component": "test", "metric": "test",
        "target": None, "value": None, "threshold": None, "level": "INFO",
        "message": f"Test notification from fleetwatch, sent by {actor}",
        "server_id": None, "server_name": "fleetwatch", "state": "test",
        "fired_at": now, "updated_at": now,
    })  # fmt: skip


async def send_channel_test(ctx: HubContext, channel_id: int, actor: str) -> str | None:
    """Send a test event on one channel now (filters bypassed): the error text, or None when it
    was delivered. Raises `ApiError` 404 for an unknown channel, then 503 `alerts_unavailable`
    when the alert engine is not running."""
    await alert_config.get_channel(ctx, channel_id)
    event = channel_test_event(actor, time.time())
    return await runtime_of(ctx).notifier.test(channel_id, event)


async def save_mail(
    ctx: HubContext, mail: MailService, data: dict[str, Any], actor: str
) -> MailConfig:
    """Validate and store the mail settings (masked secrets keep their value), then audit the
    change; raises `InvalidFieldError` naming the field."""
    config = await mail.save_config(data)
    await audit(ctx, actor, "mail.update", None, {"transport": config.transport})
    return config


async def send_mail_test(mail: MailService, to: list[str]) -> str | None:
    """A connection (and login) test, or with addresses in `to` a test email: the error text,
    or None when it worked."""
    try:
        if to:
            await mail.send_template("custom", to, dict(MAIL_TEST_VARIABLES))
        else:
            await mail.test_connection()
    except DeliveryError as exc:
        return str(exc)
    return None
